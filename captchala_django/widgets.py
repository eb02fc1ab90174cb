"""The CaptchaLa widget: data-attribute markup, the hidden token input, the loader
and a static boot script (no inline JavaScript, so a strict CSP works).

The two scripts are the widget's :class:`~django.forms.Media`; the widget also
writes them itself, once per request, so that ``{{ form }}`` alone works. The
boot script starts each widget once, whichever way it was loaded.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Mapping
from typing import Any

from django import forms
from django.http import HttpRequest
from django.templatetags.static import static
from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext

from . import server_tokens
from .actions import note_action, provider_action
from .conf import WIDGET_OPTIONS, app_settings
from .exceptions import CaptchaLaError, ConfigurationError
from .keys import app_key_for
from .tokens import MULTIPLE_TOKENS, read_token

logger = logging.getLogger("captchala_django.widgets")


#: The boot script, a static file of the package.
BOOT_SCRIPT = "captchala_django/captchala-boot.js"

#: Classes form libraries put on every control to draw an input's box (crispy-forms'
#: Bootstrap packs add ``form-control``): the widget's element is a container, not an
#: input, so they are left off. Every other class is kept, ``is-invalid`` among them
#: (Bootstrap shows the ``.invalid-feedback`` that follows it).
INPUT_BOX_CLASSES = frozenset({"form-control", "form-select"})


def csp_nonce(request: HttpRequest | None) -> str:
    """The request's Content-Security-Policy nonce, if a CSP middleware made one: Django's
    own (6.0+, ``get_nonce``; reading it puts it in the header) or django-csp's
    (``request.csp_nonce``)."""
    if request is None:
        return ""
    try:  # Django 6.0+ (by name: the type stubs of Django 5.2 do not know the module)
        csp = importlib.import_module("django.middleware.csp")
    except ImportError:
        csp = None
    if csp is not None:
        nonce = csp.get_nonce(request)
        # A lazy value whose truth says whether it was read: str() reads it, so that
        # the middleware puts it in the header.
        if nonce is not None:
            return str(nonce)
    # django-csp's nonce is lazy too, and falsy until read: read it, never test it.
    nonce = getattr(request, "csp_nonce", None)
    return "" if nonce is None else str(nonce)


class CaptchaLaWidget(forms.Widget):
    """``product``, ``lang`` and ``theme`` override ``CAPTCHALA_WIDGET`` for this widget."""

    template_name = "captchala_django/widget.html"

    def __init__(
        self,
        attrs: dict[str, Any] | None = None,
        *,
        action: str | None = None,
        product: str | None = None,
        lang: str | None = None,
        theme: str | dict[str, Any] | None = None,
    ) -> None:
        super().__init__(attrs)
        note_action(action)
        self.action = action
        self.options: dict[str, str | dict[str, Any] | None] = {
            "product": product,
            "lang": lang,
            "theme": theme,
        }
        #: Set by the bound field from ``form.request`` before rendering.
        self.request: HttpRequest | None = None
        #: The body field of the token: the form's prefix applied to ``CAPTCHALA_TOKEN_FIELD``
        #: (set by the bound field; ``None`` is the setting itself).
        self.token_name: str | None = None

    @property
    def token_field(self) -> str:
        """The body field this widget's token is posted in, and read from."""
        return self.token_name or app_settings.TOKEN_FIELD

    @property
    def media(self) -> forms.Media:
        """The loader and the boot script (``{{ form.media }}`` lists each once per page);
        with ``CAPTCHALA_CONSENT``, the boot script only, naming the loader it loads once
        the visitor consents."""
        # Script objects are Media's own (Django 5.2), but its stubs take only paths.
        if app_settings.CONSENT:
            boot = forms.Script(
                BOOT_SCRIPT, defer=True, **{"data-captchala-loader": app_settings.LOADER_URL}
            )
            return forms.Media(js=[boot])  # type: ignore[list-item]
        return forms.Media(
            js=[
                forms.Script(app_settings.LOADER_URL, defer=True),  # type: ignore[list-item]
                forms.Script(BOOT_SCRIPT, defer=True),  # type: ignore[list-item]
            ]
        )

    def use_required_attribute(self, initial: Any) -> bool:
        """No ``required`` attribute: it means nothing on a ``div`` (the field is required)."""
        return False

    def value_from_datadict(
        self, data: Mapping[str, Any], files: Mapping[str, Any], name: str
    ) -> Any:
        read = read_token(None, data, self.token_field)  # a form reads the body only
        return MULTIPLE_TOKENS if read.conflict else read.token

    def value_omitted_from_data(
        self, data: Mapping[str, Any], files: Mapping[str, Any], name: str
    ) -> bool:
        return self.token_field not in data

    @staticmethod
    def _merged_attrs(given: dict[str, Any], ours: dict[str, Any]) -> dict[str, Any]:
        """One set of attributes for the widget's element: the caller's win, except that
        classes are joined (the browser keeps only the first of two equal attributes),
        without those of :data:`INPUT_BOX_CLASSES`."""
        merged = {**ours, **given}
        theirs = [c for c in str(given.get("class") or "").split() if c not in INPUT_BOX_CLASSES]
        merged["class"] = " ".join([ours["class"], *theirs])
        return merged

    def widget_options(self) -> dict[str, Any]:
        """``CAPTCHALA_WIDGET``, then this widget's own options (unknown keys are
        refused by system check E010, never passed on)."""
        options = {k: v for k, v in (app_settings.WIDGET or {}).items() if k in WIDGET_OPTIONS}
        options.update({k: v for k, v in self.options.items() if v})
        theme = options.get("theme")
        if isinstance(theme, dict):
            import json

            options["theme"] = json.dumps(theme)
        return options

    @staticmethod
    def _first_on_page(request: HttpRequest | None) -> bool:
        """Whether this widget writes the scripts: the first one rendered for a request."""
        if request is None:
            return True
        first = not getattr(request, "_captchala_scripts", False)
        # Kept on the request for the widgets rendered after it; HttpRequest declares no such field.
        request._captchala_scripts = True  # type: ignore[attr-defined]
        return first

    def get_context(self, name: str, value: Any, attrs: dict[str, Any] | None) -> dict[str, Any]:
        context = super().get_context(name, None, attrs)
        request = self.request
        options = self.widget_options()
        server_token, error = "", ""
        # The widget runs under the provider's action name: a server token exists only
        # for those, and the pass it gives is accepted for the named action.
        action = provider_action(self.action) or ""
        if app_settings.SERVER_TOKENS and action and request is not None:
            try:
                server_token = server_tokens.issue(request, action).token
            except server_tokens.BudgetExceeded:
                pass  # logged once by the budget; the widget works without one
            except ConfigurationError as exc:
                logger.error("could not issue a server token: %s", exc)
                error = "unavailable"
            except CaptchaLaError as exc:
                logger.warning("could not issue a server token: %s", exc)
                error = "unavailable"
        try:
            refresh_url = reverse("captchala:server-token")
        except NoReverseMatch:
            refresh_url = ""
        try:
            app_key = app_key_for(request)  # the request's app (keys per site)
        except ConfigurationError as exc:
            logger.error("%s", exc)
            app_key, error = "", "unavailable"
        captchala = {
            "app_key": app_key,
            "action": action,
            "server_token": server_token,
            "product": options.get("product", "bind"),
            "lang": options.get("lang", "auto"),
            "theme": options.get("theme", ""),
            "loader_url": app_settings.LOADER_URL,
            "token_field": self.token_field,
            "boot_url": static(BOOT_SCRIPT),
            "error_message": gettext(
                "The check could not be loaded. Please reload the page to try again."
            ),
            "refresh_url": refresh_url,
            "nonce": csp_nonce(request),
            "error": error,
            "scripts": not error and self._first_on_page(request),
            # CAPTCHALA_CONSENT: the boot script's tag names the loader, loaded on consent.
            "consent": app_settings.CONSENT,
            "consent_label": gettext("Load the check"),
        }
        # The element's attributes, for the boot script: the same values as data-*.
        data = ("app_key", "server_token", "action", "product", "lang", "theme", "refresh_url")
        ours = {"class": "captchala", "data-captchala": True}
        ours |= {"data-" + name.replace("_", "-"): captchala[name] for name in data}
        ours["data-captchala-error"] = error or False
        context["widget"]["attrs"] = self._merged_attrs(context["widget"]["attrs"], ours)
        context["captchala"] = captchala
        return context
