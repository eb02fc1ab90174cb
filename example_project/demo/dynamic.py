"""Pages that are not plain forms: an htmx page and a page that renders itself (fetch + JSON).

Both post to views guarded by ``checkpoint_required``: the first request of a session is
stopped and answered with what the page can act on (an ``HX-Trigger`` event for htmx, the
403's JSON for ``fetch``); the boot script shows the check and the request is sent again,
once, with the pass token.
"""

import itertools
import json

from django.http import JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_http_methods, require_POST

from captchala_django.decorators import checkpoint_required

from .forms import CommentForm

#: Numbers the transfers this process sent: a test sees each one go through once.
SENT = itertools.count(1)


def htmx_page(request):
    return render(request, "demo/htmx.html")


@checkpoint_required(action="transfer")
@require_POST
def htmx_transfer(request):
    """An htmx POST: its answer is a fragment htmx swaps into ``#htmx-result``."""
    amount = request.POST.get("amount", "")
    return render(request, "demo/htmx_sent.html", {"amount": amount, "number": next(SENT)})


@require_http_methods(["GET", "POST"])
def htmx_comment(request):
    """A form fragment with a check of its own, swapped into the page by htmx: the boot
    script starts the widget it brings."""
    form = CommentForm(request.POST or None, request=request)
    if request.method == "POST" and form.is_valid():
        return render(request, "demo/htmx_comment_done.html", {"text": form.cleaned_data["text"]})
    return render(request, "demo/htmx_comment_form.html", {"form": form})


def spa_page(request):
    return render(request, "demo/spa.html")


@checkpoint_required(action="transfer")
@require_POST
def spa_transfer(request):
    """JSON in, JSON out; the token travels in the JSON body (``captchala_token``)."""
    try:
        data = json.loads(request.body or b"{}")
    except ValueError:
        return JsonResponse({"error": "bad_request", "detail": "The body is not JSON."}, status=400)
    amount = data.get("amount") if isinstance(data, dict) else None
    return JsonResponse({"ok": True, "amount": str(amount), "number": next(SENT)})
