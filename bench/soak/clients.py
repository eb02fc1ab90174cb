"""The client processes: one per role of ``PLAN``, each running :class:`load.Client`.

They start together and stop by their own clock at the stop time: no request starts
after it. ``join_clients`` waits for them until a deadline; a process still running
then is killed and reported with its threads' stacks (written by the process itself
on SIGUSR1), so that the report says where it was stuck.
"""

from __future__ import annotations

import contextlib
import faulthandler
import os
import signal
import time
from dataclasses import asdict
from typing import Any

from .load import Client, ClientConfig

#: How long after the stop time a client process may still run before it is killed (and
#: reported): no request starts after the stop time, so its last one is answered or timed
#: out (a ReadTimeout, itself a violation) within transport.REQUEST_TIMEOUT, plus a burst's
#: barrier wait.
STOP_GRACE = 30.0


def stacks_path(log_path: str) -> str:
    """Where a client process writes its threads' stacks when asked (beside its log)."""
    return log_path.removesuffix(".jsonl") + ".stacks"


def client_main(cfg: dict[str, Any], used_tokens: Any) -> None:
    """The entry point of one client process."""
    # On SIGUSR1 (join_clients, before it kills a process late at the deadline) every
    # thread's stack goes to a file, so that the report says where the process was stuck.
    # The file stays open until the process ends: it may be stuck after run() returned.
    stacks = open(stacks_path(cfg["log_path"]), "w")  # noqa: SIM115
    faulthandler.register(signal.SIGUSR1, file=stacks, all_threads=True)
    # The replay bot stops reading at the stop time. Tokens this process shared after the
    # pipe filled up wait in the queue's feeder thread, which by default is joined at exit:
    # a write into a pipe nobody reads any more, so the process would never end.
    used_tokens.cancel_join_thread()
    Client(ClientConfig(**cfg), used_tokens).run()


PLAN = [
    # (role, threads)
    ("wsgi_users", 3),
    ("asgi_users", 2),
    ("api_users", 2),
    ("bots_tokens", 2),
    ("bots_replay", 1),
    ("bots_flood", 2),
]


def start_clients(
    ctx: Any,
    *,
    logdir: str,
    gunicorn: str,
    uvicorn: str,
    sandbox: str,
    start_at: float,
    stop_at: float,
    seed: int,
) -> list[Any]:
    """Start the client processes (one per role); they stop by themselves at ``stop_at``."""
    used_tokens = ctx.Queue(maxsize=2000)
    processes = []
    for index, (role, threads) in enumerate(PLAN):
        cfg = ClientConfig(
            name=f"c{index}-{role}",
            role=role,
            index=index,
            threads=threads,
            gunicorn=gunicorn,
            uvicorn=uvicorn,
            sandbox=sandbox,
            start_at=start_at,
            stop_at=stop_at,
            log_path=f"{logdir}/c{index}-{role}.jsonl",
            seed=seed + index,
        )
        process = ctx.Process(
            target=client_main, args=(asdict(cfg), used_tokens), name=cfg.name, daemon=True
        )
        process.start()
        processes.append(process)
    processes.append(used_tokens)  # kept alive with the processes; see join_clients
    return processes


def _stacks(process: Any, path: str) -> str:
    """The stacks of a live client process's threads (client_main's SIGUSR1 handler)."""
    with contextlib.suppress(ProcessLookupError):  # it ended after all
        os.kill(process.pid, signal.SIGUSR1)
    # The handler writes from inside the signal: wait (bounded) until the file stops growing.
    size, deadline = -1, time.time() + 5
    while time.time() < deadline:
        time.sleep(0.2)
        now = os.path.getsize(path) if os.path.exists(path) else 0
        if now and now == size:
            break
        size = now
    try:
        with open(path) as file:
            return file.read().strip() or "(no stacks written)"
    except OSError as exc:  # it was stuck before client_main opened the file
        return f"(no stacks: {exc})"


def join_clients(processes: list[Any], deadline: float, logdir: str) -> list[str]:
    """Wait for the client processes (killing any still there at ``deadline``, after
    asking for its threads' stacks); the names of those that did not finish cleanly."""
    *procs, used_tokens = processes
    problems = []
    for process in procs:
        process.join(timeout=max(0.1, deadline - time.time()))
        if process.is_alive():
            stacks = _stacks(process, stacks_path(f"{logdir}/{process.name}.jsonl"))
            problems.append(
                f"{process.name} still running at the deadline: killed; its threads:\n{stacks}"
            )
            process.kill()
            process.join(timeout=5)
        elif process.exitcode != 0:
            problems.append(f"{process.name} exited with {process.exitcode}")
    used_tokens.cancel_join_thread()
    used_tokens.close()
    return problems
