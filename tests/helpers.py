from django.contrib.sessions.backends.db import SessionStore
from django.test import RequestFactory

from captchala_django.scopes import Scope


def make_request(ip: str = "203.0.113.7", path: str = "/protected/", **extra):
    request = RequestFactory().post(path, REMOTE_ADDR=ip, **extra)
    request.session = SessionStore()
    return request


def scope(subject: str = "s1", route: str = "route") -> Scope:
    return Scope("session", subject, route)


FORGED = "pt_" + "forged" * 4


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def run_threads(n, target):
    """Run ``target(i)`` in ``n`` threads released together, each with its own database
    connection (closed after). Returns the results and the exceptions raised."""
    import threading

    from django.db import connection

    barrier = threading.Barrier(n)
    results, errors = [], []

    def work(i):
        try:
            barrier.wait()
            results.append(target(i))
        except Exception as exc:  # noqa: BLE001 - asserted by the caller
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(i,)) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results, errors


class Waiter:
    """``fn()`` started in a thread of its own (own database connection); ``result()``
    joins it and returns what it returned, re-raising what it raised."""

    def __init__(self, fn):
        import threading

        from django.db import connection

        self._box: dict = {}

        def run():
            try:
                self._box["result"] = fn()
            except Exception as exc:  # noqa: BLE001 - re-raised by result()
                self._box["error"] = exc
            finally:
                connection.close()

        self._thread = threading.Thread(target=run)
        self._thread.start()

    def result(self, timeout: float = 30):
        self._thread.join(timeout)
        assert not self._thread.is_alive(), "the thread did not finish"
        if "error" in self._box:
            raise self._box["error"]
        return self._box["result"]


class JsonServer:
    """A small HTTP server on loopback that records every request and answers each with
    ``status``, the JSON ``body`` and an optional ``location`` (all changeable)."""

    def __init__(self, status=200, body=None, location=None):
        import http.server
        import json
        import threading

        self.status, self.body, self.location = status, body or {}, location
        self.seen: list[dict] = []
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                length = int(self.headers.get("Content-Length") or 0)
                owner.seen.append(
                    {
                        "line": self.requestline,
                        "headers": dict(self.headers),
                        "body": self.rfile.read(length),
                    }
                )
                raw = json.dumps(owner.body).encode()
                self.send_response(owner.status)
                if owner.location:
                    self.send_header("Location", owner.location)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def log_message(self, *args):
                pass

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._server.shutdown()
        self._server.server_close()


VALID = {"code": 0, "msg": "ok", "data": {"valid": True}}


def checkpoint_lookups(queries) -> list[str]:
    """The SELECTs on the checkpoint table among captured queries."""
    return [
        q["sql"]
        for q in queries
        if q["sql"].lstrip().upper().startswith("SELECT")
        and "captchala_django_checkpoint" in q["sql"]
    ]


def run_processes(n, target, *args):
    """Run ``target(i, *args, barrier, out)`` in ``n`` spawned processes released together,
    each with its own database connection; return what each put on ``out``, once all exited
    cleanly."""
    import multiprocessing

    ctx = multiprocessing.get_context("spawn")
    barrier, out = ctx.Barrier(n), ctx.Queue()
    workers = [ctx.Process(target=target, args=(i, *args, barrier, out)) for i in range(n)]
    for proc in workers:
        proc.start()
    reports = [out.get(timeout=300) for _ in workers]
    for proc in workers:
        proc.join(60)
        assert proc.exitcode == 0
    return reports
