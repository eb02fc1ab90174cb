"""The types of views under ``checkpoint_required``: checked by mypy, never run.

``scripts/typecheck`` checks this module (``mypy.ini`` lists it); pytest does not
collect it (not ``test_*.py``). A decorated view keeps its own type, in both forms
(``@checkpoint_required`` and ``@checkpoint_required(...)``): a sync view the same
parameters (names, kinds, defaults) and result, an async view its coroutine-function
type. Each ``assert_type`` fails the check if the decorator's typing loosens (to
``Any``, or to a callable that forgets the parameters or the result); each
``type: ignore[...]`` marks a misuse that must stay an error (``warn_unused_ignores``
reports it once it is not).

The expected types name their parameters with ``mypy_extensions.Arg`` (mypy's form
of a callable with named parameters), defined for the type checker only and named
in strings, so that nothing here is needed at run time.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.decorators import method_decorator
from django.views import View

from captchala_django.decorators import checkpoint_required

if sys.version_info >= (3, 11):
    from typing import assert_type
else:
    from typing_extensions import assert_type

if TYPE_CHECKING:
    from mypy_extensions import Arg, DefaultArg, DefaultNamedArg

    SyncView = Callable[[Arg(HttpRequest, "request")], HttpResponse]
    AsyncView = Callable[[Arg(HttpRequest, "request")], Coroutine[Any, Any, HttpResponse]]
    StatementView = Callable[
        [Arg(HttpRequest, "request"), Arg(int, "account"), DefaultNamedArg(int, "page")],
        JsonResponse,
    ]
    AsyncStatementView = Callable[
        [Arg(HttpRequest, "request"), DefaultArg(int, "account")],
        Coroutine[Any, Any, JsonResponse],
    ]


# ---------------------------------------------------------------- @checkpoint_required


@checkpoint_required
def transfer(request: HttpRequest) -> HttpResponse:
    return HttpResponse("ok")


@checkpoint_required
async def async_transfer(request: HttpRequest) -> HttpResponse:
    return HttpResponse("ok")


assert_type(transfer, "SyncView")
assert_type(async_transfer, "AsyncView")


# ---------------------------------------------------------------- @checkpoint_required(...)


@checkpoint_required(action="transfer", methods=("GET", "POST"), ttl=60, max_risk=40)
def statement(request: HttpRequest, account: int, *, page: int = 1) -> JsonResponse:
    return JsonResponse({"account": account, "page": page})


@checkpoint_required(scope="ip")
async def async_statement(request: HttpRequest, account: int = 0) -> JsonResponse:
    return JsonResponse({"account": account})


assert_type(statement, "StatementView")
assert_type(async_statement, "AsyncStatementView")


# ---------------------------------------------------------------- called as functions


def page(request: HttpRequest, /) -> HttpResponse:
    return HttpResponse("ok")


async def async_page(request: HttpRequest, /) -> HttpResponse:
    return HttpResponse("ok")


# Positional-only parameters: the plain Callable form is the exact type.
assert_type(checkpoint_required(page), Callable[[HttpRequest], HttpResponse])
assert_type(checkpoint_required(page, scope="user"), Callable[[HttpRequest], HttpResponse])
assert_type(checkpoint_required(action="transfer")(page), Callable[[HttpRequest], HttpResponse])
assert_type(
    checkpoint_required(async_page), Callable[[HttpRequest], Coroutine[Any, Any, HttpResponse]]
)
assert_type(
    checkpoint_required(methods=["POST"])(async_page),
    Callable[[HttpRequest], Coroutine[Any, Any, HttpResponse]],
)


# ---------------------------------------------------------------- calls and misuse


def calls(request: HttpRequest) -> None:
    assert_type(transfer(request), HttpResponse)
    assert_type(statement(request, 7, page=2), JsonResponse)
    assert_type(async_transfer(request), Coroutine[Any, Any, HttpResponse]).close()
    transfer()  # type: ignore[call-arg]
    statement(request, "7")  # type: ignore[arg-type]
    statement(request, 7, pages=2)  # type: ignore[call-arg]


async def awaits(request: HttpRequest) -> None:
    assert_type(await async_transfer(request), HttpResponse)
    assert_type(await async_statement(request, account=3), JsonResponse)


checkpoint_required(page, ttl="60")  # type: ignore[call-overload]
checkpoint_required(scope=3)  # type: ignore[call-overload]


# ---------------------------------------------------------------- class-based views


@method_decorator(checkpoint_required(action="transfer"), name="dispatch")
class DecoratedView(View):
    def post(self, request: HttpRequest) -> HttpResponse:
        return HttpResponse("ok")


assert_type(DecoratedView, type[DecoratedView])
