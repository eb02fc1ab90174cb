"""What a reply says, as the invariants count it: allowed, degraded, the server-token
issue it shows, and the refusal's code."""

from __future__ import annotations

import contextlib
import json
import re
from typing import Any

_SERVER_TOKEN = re.compile(r'data-server-token="([^"]*)"')
_WIDGET_ERROR = re.compile(r'data-captchala-error="([^"]*)"')
_DEGRADED = re.compile(r"let through degraded")


def _issue(status: int | None, text: str, kind: str) -> str | None:
    """Whether the reply shows a server-token issue call: ``token`` (one was issued),
    ``error`` (the call failed), ``none`` (no call), or None (not a page that would)."""
    if status == 403 and "data-captchala" in text:
        server_token = _SERVER_TOKEN.search(text)
        if server_token and server_token.group(1):
            return "token"
        if _WIDGET_ERROR.search(text):
            return "error"
        return "none"
    if kind == "refresh" and status in (200, 503):
        return "token" if status == 200 else "error"
    if kind == "refresh" and status == 429:
        return "none"
    return None


def _code(text: str, headers: dict[str, str]) -> str | None:
    """The refusal's code in a JSON reply (``field_error`` for a serializer's)."""
    code = None
    if headers.get("Content-Type", "").startswith("application/json"):
        with contextlib.suppress(ValueError, AttributeError):
            body = json.loads(text)
            code = body.get("error") or body.get("code")
            if isinstance(body.get("detail"), dict):
                code = body["detail"].get("code")
            if code is None and "captchala_token" in body:
                code = "field_error"
    return code


def read_reply(
    status: int | None, text: str, headers: dict[str, str], kind: str, guarded: bool
) -> dict[str, Any]:
    """The log record's ``allowed``, ``degraded``, ``issue`` and ``code``, in that order."""
    allowed = None
    if guarded and status is not None:
        allowed = status in (200, 201)
    degraded = None
    if allowed:
        degraded = bool(_DEGRADED.search(text)) or '"degraded": true' in text
    return {
        "allowed": allowed,
        "degraded": degraded,
        "issue": _issue(status, text, kind),
        "code": _code(text, headers),
    }
