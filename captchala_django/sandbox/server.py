"""A standalone HTTP/1.1 (keep-alive) server around :class:`~.core.Sandbox`.

It counts the TCP connections it accepts, so tests can prove connection reuse.
"""

from __future__ import annotations

import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from .core import Sandbox

MAX_BODY = 1024 * 1024


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server_version = "CaptchaLaSandbox/1"
    #: Idle keep-alive connections are closed after this many seconds.
    timeout = 60

    server: _Server

    def setup(self) -> None:
        super().setup()
        self.server.sandbox.note_connection()

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        if self.server.verbose:
            super().log_message(format, *args)

    def do_GET(self) -> None:  # noqa: N802
        self._dispatch("GET")

    def do_POST(self) -> None:  # noqa: N802
        self._dispatch("POST")

    def do_OPTIONS(self) -> None:  # noqa: N802
        self.send_response(204)
        self._cors()
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _cors(self) -> None:
        self.send_header("Access-Control-Allow-Origin", "*")
        self.send_header("Access-Control-Allow-Headers", "Content-Type")
        self.send_header("Access-Control-Allow-Methods", "GET, POST, OPTIONS")

    def _dispatch(self, method: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            self.send_error(413)
            return
        body = self.rfile.read(length) if length else b""
        sandbox = self.server.sandbox
        release = sandbox.release
        path = self.path.split("?", 1)[0]
        reply = sandbox.handle(method, path, dict(self.headers.items()), body)
        if reply.delay and release.wait(reply.delay):
            reply.drop = True  # released by a reset: end the request now
        if reply.drop:
            if reply.hang:
                release.wait(reply.hang)
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        self.send_response(reply.status)
        self._cors()
        self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(len(reply.body)))
        self.end_headers()
        self.wfile.write(reply.body)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], sandbox: Sandbox, verbose: bool = False):
        self.sandbox = sandbox
        self.verbose = verbose
        super().__init__(address, _Handler)


class LiveSandbox:
    """A sandbox served on ``host:port`` (port 0: a free one) in a background thread.

    Attribute access falls through to the :class:`Sandbox`, so
    ``live.mint_pass_token()`` and ``live.set_fault("timeout")`` work.
    """

    def __init__(
        self,
        sandbox: Sandbox | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        verbose: bool = False,
    ):
        self.sandbox = sandbox or Sandbox()
        self._server = _Server((host, port), self.sandbox, verbose=verbose)
        self._thread: threading.Thread | None = None

    @property
    def host(self) -> str:
        return self._server.server_address[0]

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def offline_url(self) -> str:
        return self.url + "/api/validate"

    @property
    def loader_url(self) -> str:
        return self.url + "/captchala-loader.js"

    def start(self) -> LiveSandbox:
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="captchala-sandbox", daemon=True
        )
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self._server.serve_forever()

    def stop(self) -> None:
        self.sandbox.release.set()
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> LiveSandbox:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.sandbox, name)
