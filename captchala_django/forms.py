"""``CaptchaLaFormMixin``: request plumbing for forms that lack it."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest


class CaptchaLaFormMixin:
    """Lets any form take ``request=`` so that its ``CaptchaLaField`` can check.

    ``class ContactForm(CaptchaLaFormMixin, forms.Form): captcha = CaptchaLaField()``
    then ``ContactForm(request.POST, request=request)``. Not needed for
    ``AuthenticationForm`` subclasses, which take the request already, nor on a site
    with :class:`~captchala_django.middleware.RequestContextMiddleware`, where the field
    finds the request being served; a request given here comes first.
    """

    def __init__(self, *args: Any, request: HttpRequest | None = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        if request is not None or not hasattr(self, "request"):
            self.request = request
