"""What every client process shares, users or bots: its config, one loop per thread,
pauses, and parallel requests released together."""

from __future__ import annotations

import contextlib
import random
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from .transport import Http, JsonlLog, Result, Stopped


@dataclass
class ClientConfig:
    name: str
    role: str
    index: int
    threads: int
    gunicorn: str
    uvicorn: str
    sandbox: str
    start_at: float
    stop_at: float
    log_path: str
    seed: int


class Actor:
    """One client process: ``threads`` simulated users (or bots) of one role, each thread
    running the method named after the role until the stop time."""

    def __init__(self, cfg: ClientConfig, used_tokens: Any) -> None:
        self.cfg = cfg
        self.used_tokens = used_tokens
        self.log = JsonlLog(cfg.log_path, cfg.name, cfg.role)
        self.http = Http(self.log, cfg.sandbox, cfg.stop_at)
        self.pool = ThreadPoolExecutor(max_workers=8 * max(cfg.threads, 1))
        self._counter = 0
        self._lock = threading.Lock()

    def running(self) -> bool:
        return time.time() < self.cfg.stop_at

    @staticmethod
    def pause(low: float = 0.1, high: float = 0.35) -> None:
        time.sleep(random.uniform(low, high))

    def parallel(self, n: int, fn: Callable[[int], Result]) -> list[Result]:
        """``fn(i)`` for i < n, released together (a double submit, a burst)."""
        barrier = threading.Barrier(n)

        def run(i: int) -> Result:
            with contextlib.suppress(threading.BrokenBarrierError):
                barrier.wait(timeout=5)
            return fn(i)

        return list(self.pool.map(run, range(n)))

    def run(self) -> None:
        random.seed(self.cfg.seed)
        delay = self.cfg.start_at - time.time()
        if delay > 0:
            time.sleep(delay)
        target = getattr(self, self.cfg.role)
        threads = [
            threading.Thread(target=self._loop, args=(target, i), daemon=True)
            for i in range(self.cfg.threads)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        self.pool.shutdown(wait=True)
        self.log.close()

    def _loop(self, target: Callable[[int, int], None], thread: int) -> None:
        n = 0
        while self.running():
            n += 1
            try:
                target(thread, n)
            except Stopped:
                return
            except Exception as exc:
                self.log.write(
                    {
                        "kind": "client_error",
                        "scenario": self.cfg.role,
                        "error": f"{type(exc).__name__}: {exc}"[:300],
                        "t0": time.time(),
                        "t1": time.time(),
                    }
                )
                time.sleep(0.5)
