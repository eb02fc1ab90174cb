"""A django-ninja API with the check on its operations, as a site writes it."""

from ninja import NinjaAPI, Router, Schema
from ninja.decorators import decorate_view

from captchala_django.contrib.ninja import captcha_required

api = NinjaAPI(urls_namespace="ninja-test")


class CommentIn(Schema):
    text: str


@api.post("/comments")
@decorate_view(captcha_required(action="comment", ttl=0))
def create_comment(request, payload: CommentIn):
    return {"ok": True, "text": payload.text}


@api.post("/async-comments")
@decorate_view(captcha_required(action="comment", ttl=0))
async def create_comment_async(request, payload: CommentIn):
    return {"ok": True, "text": payload.text}


@api.get("/open")
@decorate_view(captcha_required(action="comment"))
def read_open(request):
    """A GET: not guarded (the decorator's default methods)."""
    return {"ok": True}


# Every operation of a router, sync and async.
guarded = Router()
guarded.add_decorator(captcha_required(action="checkout"), mode="view")


@guarded.post("/orders")
def create_order(request, payload: CommentIn):
    return {"ok": True}


@guarded.post("/async-orders")
async def create_order_async(request, payload: CommentIn):
    return {"ok": True}


api.add_router("/shop", guarded)
