"""Pass tokens: what one may look like, how it is logged, and reading it from a request
(one reader, one precedence, for every front door).

The token travels in the ``CAPTCHALA_TOKEN_FIELD`` of the body (form fields read
only that), or, for the decorator and DRF's permission, in the
``X-CaptchaLa-Token`` header. A request that carries several — two body values,
or a body token and a header token — is refused, never guessed between.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest, RawPostDataException
from django.http.multipartparser import MultiPartParserError

from .codes import Code
from .conf import app_settings

TOKEN_HEADER = "HTTP_X_CAPTCHALA_TOKEN"
#: The header as a client names it.
TOKEN_HEADER_NAME = "X-CaptchaLa-Token"
#: Longest pass token accepted, in bytes; longer ones are refused without a call.
TOKEN_MAX_BYTES = 4096
#: Longest provider code kept (codes reach logs, events and the database).
CODE_MAX_CHARS = 64
#: What a form field gets when a body carries several tokens: refused, never guessed between.
MULTIPLE_TOKENS = object()


#: A receipt in a form step's stored data, where its token was (``checkpoints.receipts``):
#: never a pass token (a token has no ``:``), and read as one only from a wizard's storage.
RECEIPT_PREFIX = "captchala-receipt:"
#: The receipt of a step a staff user skipped (``CAPTCHALA_SKIP_FOR_STAFF``): no row is
#: held, and it counts only while the request's user may still skip.
STAFF_RECEIPT = RECEIPT_PREFIX + "staff"
#: The attribute of a form built from a wizard's stored step data: how it may use a receipt.
RECEIPT_USE_ATTRIBUTE = "captchala_receipt_use"


def is_receipt(value: object) -> bool:
    """Whether a token field's value is a receipt, not a token."""
    return isinstance(value, str) and value.startswith(RECEIPT_PREFIX)


#: A JSON media type: ``application/json`` and ``application/<anything>+json``.
JSON_TYPE = re.compile(r"application/(?:[\w.\-]+\+)?json", re.I)


class BadBody(ValueError):
    """The body says it is JSON and is not (a 400 for the client, never a 500)."""


class _Several(list):  # type: ignore[type-arg]
    """The values of a key a JSON object repeats: every one counts, none wins."""


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object whose repeated keys keep all their values (``json`` keeps the last)."""
    found: dict[str, Any] = {}
    for key, value in pairs:
        if key in found:
            before = found[key]
            found[key] = _Several([*(before if isinstance(before, _Several) else [before]), value])
        else:
            found[key] = value
    return found


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def is_json(request: HttpRequest) -> bool:
    """Whether the request says its body is JSON."""
    return bool(JSON_TYPE.fullmatch(request.content_type or ""))


def post_data(request: HttpRequest) -> Any:
    """The POST body's fields; a malformed body carries none (so no token either)."""
    try:
        return request.POST
    except (MultiPartParserError, ValueError):
        return {}


def request_body(request: HttpRequest) -> Any:
    """The parsed body a front door reads the token from: a JSON object (any method), a
    form POST's fields, else ``{}``. Raises :class:`BadBody` for a body that says it is
    JSON and is not; JSON that is not an object carries no token."""
    if not is_json(request):
        return post_data(request) if request.method == "POST" else {}
    try:
        raw = request.body
    except RawPostDataException:  # the view's code read the stream already
        return {}
    if not raw.strip():
        return {}
    try:
        value = json.loads(
            raw.decode("utf-8"), object_pairs_hook=_object, parse_constant=_no_constant
        )
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise BadBody("The request body is not valid JSON.") from exc
    return value if isinstance(value, dict) else {}


@dataclass(frozen=True)
class TokenRead:
    token: Any = None
    #: Several tokens were sent: none is used.
    conflict: bool = False


def body_tokens(data: Any, field: str | None = None) -> list[Any]:
    """Every value of the token field (``field``, else ``CAPTCHALA_TOKEN_FIELD``) in parsed
    body ``data`` (a QueryDict, DRF's ``request.data``, or ``{}``); a JSON list counts as
    its items."""
    field = field or app_settings.TOKEN_FIELD
    if hasattr(data, "getlist"):
        return [v for v in data.getlist(field) if v is not None]
    if isinstance(data, dict) and data.get(field) is not None:
        value = data[field]
        return list(value) if isinstance(value, (list, tuple)) else [value]
    return []


def request_tokens(request: HttpRequest | None, data: Any, field: str | None = None) -> list[Any]:
    """Every token a request carries: the body field's values, then the header."""
    values = body_tokens(data, field)
    header = request.META.get(TOKEN_HEADER) if request is not None else None
    if header is not None:
        values.append(header)
    return values


def read_token(request: HttpRequest | None, data: Any, field: str | None = None) -> TokenRead:
    """The token of a request: the body field (``field``, else ``CAPTCHALA_TOKEN_FIELD``),
    else the header; several is a conflict."""
    values = request_tokens(request, data, field)
    if len(values) > 1:
        return TokenRead(conflict=True)
    return TokenRead(token=values[0] if values else None)


def token_format_error(pass_token: object) -> str | None:
    """Why ``pass_token`` cannot be a pass token, or ``None`` if it could be.

    Checked before any provider call: empty, longer than ``TOKEN_MAX_BYTES``,
    or anything but printable ASCII without spaces.
    """
    if not isinstance(pass_token, str) or not pass_token:
        return Code.MISSING_TOKEN
    if len(pass_token) > TOKEN_MAX_BYTES:
        return Code.TOKEN_TOO_LONG
    if not all("!" <= ch <= "~" for ch in pass_token):
        return Code.MALFORMED_TOKEN
    return None


def printable(value: object, limit: int = CODE_MAX_CHARS) -> str:
    """``value`` as text with everything but printable ASCII (no space) removed, capped.

    Provider strings pass through it before they reach a log line, an event or
    the database: a newline or an escape sequence there could forge a record.
    """
    return "".join(ch for ch in str(value) if "!" <= ch <= "~")[:limit]


def token_hint(pass_token: str) -> str:
    """A loggable hint of a token: its kind prefix and length, never its value."""
    prefix = pass_token.split("_", 1)[0] + "_" if "_" in pass_token[:12] else ""
    return f"{prefix}…({len(pass_token)} chars)"
