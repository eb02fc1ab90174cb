"""A standalone HTTP/1.1 (keep-alive) server around :class:`~.core.Sandbox`.

It counts the TCP connections that carry a request it serves, so tests can prove
connection reuse.

Any page a developer's browser opens can send requests to a loopback port, so it
serves only loopback ``Host`` headers (plus the bound address and any
``allowed_hosts``), grants CORS only to the loader and the browser check, and
refuses a request from a page on another host everywhere else: the rule in
:mod:`.origin`, which the mounted views share.

A refused request gets a 403 and never reaches the :class:`Sandbox`.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from ..conf import SANDBOX_APP_KEY, SANDBOX_APP_SECRET
from .core import Sandbox
from .origin import (
    CORS_HEADERS,
    allowed_name,
    host_name,
    is_loopback,
    refusal,
    wants_cors,
)

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
        self._counted = False

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        if self.server.verbose:
            super().log_message(format, *args)

    def do_GET(self) -> None:  # noqa: N802
        self._dispatch("GET")

    def do_POST(self) -> None:  # noqa: N802
        self._dispatch("POST")

    def do_OPTIONS(self) -> None:  # noqa: N802
        """A CORS preflight: granted for the browser check only."""
        if not self._admit("OPTIONS"):
            return
        self.send_response(204)
        if self._wants_cors("OPTIONS"):
            self._cors()
        else:
            self.send_header("Allow", "GET, POST, OPTIONS")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _path(self) -> str:
        return self.path.split("?", 1)[0]

    def _wants_cors(self, method: str) -> bool:
        return wants_cors(method, self._path())

    def _cors(self) -> None:
        for name, value in CORS_HEADERS.items():
            self.send_header(name, value)

    def _admit(self, method: str) -> bool:
        """Refuse (403) a request for a host not ours, or from a page of another site."""
        server = self.server
        reason = refusal(
            method,
            self._path(),
            self.headers.get("Host"),
            self.headers.get("Origin"),
            server.host_allowed,
        )
        if reason is not None:
            self._refuse(reason)
            return False
        if not self._counted:
            self._counted = True
            server.sandbox.note_connection()
        return True

    def _refuse(self, message: str) -> None:
        body = message.encode()
        self.close_connection = True  # its body, if any, is left unread
        self.send_response(403)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)

    def _dispatch(self, method: str) -> None:
        if not self._admit(method):
            return
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            self.send_error(413)
            return
        body = self.rfile.read(length) if length else b""
        sandbox = self.server.sandbox
        release = sandbox.release
        reply = sandbox.handle(method, self._path(), dict(self.headers.items()), body)
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
        if self._wants_cors(method):
            self._cors()
        self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(len(reply.body)))
        self.end_headers()
        self.wfile.write(reply.body)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(
        self,
        address: tuple[str, int],
        sandbox: Sandbox,
        verbose: bool = False,
        allowed_hosts: Iterable[str] = (),
    ):
        self.sandbox = sandbox
        self.verbose = verbose
        super().__init__(address, _Handler)
        if isinstance(allowed_hosts, str):
            allowed_hosts = [allowed_hosts]
        # The address it was asked to bind, and the one it bound, so that its own
        # ``url`` works (an IP literal cannot be rebound by DNS). Then the extras.
        names = {address[0], self.bound_host, *allowed_hosts}
        self.allowed_hosts = frozenset(map(allowed_name, names)) - {None}

    @property
    def bound_host(self) -> str:
        """The host it bound: text for an IP server (the socketserver stubs allow bytes)."""
        host = self.server_address[0]
        return host if isinstance(host, str) else host.decode()

    def host_allowed(self, value: str | None) -> bool:
        """Whether a ``Host`` header (or a bare host name) names this server."""
        name = host_name(value)
        return is_loopback(name) or name in self.allowed_hosts


class LiveSandbox:
    """A sandbox served on ``host:port`` (port 0: a free one) in a background thread.

    Only requests whose ``Host`` is a loopback name (``localhost``, ``127.x.x.x``,
    ``[::1]``, with any port) or ``host`` itself are served; ``allowed_hosts`` adds
    host names (say, the name a container is reached by). Others get a 403.

    Attribute access falls through to the :class:`Sandbox`, so
    ``live.mint_pass_token()`` and ``live.set_fault("timeout")`` work.
    """

    def __init__(
        self,
        sandbox: Sandbox | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        verbose: bool = False,
        allowed_hosts: Iterable[str] = (),
    ):
        self.sandbox = sandbox or Sandbox()
        self._server = _Server(
            (host, port), self.sandbox, verbose=verbose, allowed_hosts=allowed_hosts
        )
        self._thread: threading.Thread | None = None

    @property
    def host(self) -> str:
        return self._server.bound_host

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
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="captchala-sandbox",
            daemon=True,
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

    # The same names as captchala_django.testing.SandboxFixture: one vocabulary for the
    # pytest fixture and for manage.py test.

    def form_data(
        self,
        fields: Mapping[str, Any] | None = None,
        *,
        action: str | None = None,
        token: str | None = None,
    ) -> dict[str, Any]:
        """POST data: ``fields`` plus a pass token (minted for ``action``, unless ``token``
        is given: say, a made-up one) under ``CAPTCHALA_TOKEN_FIELD``."""
        from ..conf import app_settings

        value = self.sandbox.mint_pass_token(action) if token is None else token
        return {**(fields or {}), app_settings.TOKEN_FIELD: value}

    def token_header(
        self, action: str | None = None, *, token: str | None = None
    ) -> dict[str, str]:
        """The token as the ``X-CaptchaLa-Token`` header, as test-client keyword arguments:
        ``client.post(url, data, **sandbox.token_header("checkout"))``."""
        from ..tokens import TOKEN_HEADER

        return {TOKEN_HEADER: self.sandbox.mint_pass_token(action) if token is None else token}


def sandbox_settings(live: LiveSandbox) -> dict[str, Any]:
    """The settings that point captchala-django at the running sandbox ``live``
    (:mod:`captchala_django.testing` applies them with ``override_settings``)."""
    return {
        "CAPTCHALA_API_URL": live.url,
        "CAPTCHALA_OFFLINE_API_URL": live.offline_url,
        "CAPTCHALA_LOADER_URL": live.loader_url,
        "CAPTCHALA_APP_KEY": SANDBOX_APP_KEY,
        "CAPTCHALA_APP_SECRET": SANDBOX_APP_SECRET,
    }
