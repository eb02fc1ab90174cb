"""Views whose form is never given the request: the field must find it on its own."""

from asgiref.sync import sync_to_async
from django import forms
from django.http import HttpResponse, JsonResponse
from django.shortcuts import render

from captchala_django.fields import CaptchaLaField


class CommentForm(forms.Form):
    """A plain form, built with ``CommentForm(request.POST or None)`` and nothing more."""

    text = forms.CharField()
    captcha = CaptchaLaField(action="comment")


def comment(request):
    form = CommentForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        return HttpResponse("accepted", status=201)
    return render(request, "tests/form.html", {"form": form}, status=400 if form.is_bound else 200)


async def async_comment(request):
    form = CommentForm(request.POST or None)
    # Validation and rendering reach the database and the provider: off the event loop.
    if request.method == "POST" and await sync_to_async(form.is_valid)():
        return HttpResponse("accepted", status=201)
    status = 400 if form.is_bound else 200
    return await sync_to_async(render)(request, "tests/form.html", {"form": form}, status=status)


def _seen(request):
    from captchala_django.middleware import current_request

    return JsonResponse({"sees_itself": current_request() is request})


def sees_itself(request):
    """Answers whether the request context holds this very request."""
    return _seen(request)


async def async_sees_itself(request):
    return _seen(request)


def fails(request):
    raise RuntimeError("the view's own work failed")
