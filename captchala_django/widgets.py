"""The CaptchaLa widget: data-attribute markup, the hidden token input, the loader
and a static boot script (no inline JavaScript, so a strict CSP works)."""

from __future__ import annotations

import logging
from typing import Any

from django import forms
from django.http import HttpRequest
from django.urls import NoReverseMatch, reverse

from . import server_tokens
from .client import KNOWN_ACTIONS
from .conf import app_settings
from .exceptions import CaptchaLaError, ConfigurationError
from .tokens import MULTIPLE_TOKENS, read_token

logger = logging.getLogger("captchala_django.widgets")


class CaptchaLaWidget(forms.Widget):
    template_name = "captchala_django/widget.html"

    def __init__(
        self,
        attrs: dict[str, Any] | None = None,
        *,
        action: str | None = None,
        product: str | None = None,
        lang: str | None = None,
        theme: str | None = None,
    ):
        super().__init__(attrs)
        self.action = action
        self.options = {"product": product, "lang": lang, "theme": theme}
        #: Set by the bound field from ``form.request`` before rendering.
        self.request: HttpRequest | None = None

    def value_from_datadict(self, data, files, name):
        read = read_token(None, data)  # a form reads the body only
        return MULTIPLE_TOKENS if read.conflict else read.token

    def value_omitted_from_data(self, data, files, name):
        return app_settings.TOKEN_FIELD not in data

    @staticmethod
    def _merged_attrs(given: dict[str, Any], ours: dict[str, Any]) -> dict[str, Any]:
        """One set of attributes for the widget's element: the caller's win, except that
        classes are joined (the browser keeps only the first of two equal attributes)."""
        merged = {**ours, **given}
        if given.get("class"):
            merged["class"] = f"{ours['class']} {given['class']}"
        return merged

    def widget_options(self) -> dict[str, Any]:
        options = dict(app_settings.WIDGET or {})
        options.update({k: v for k, v in self.options.items() if v})
        theme = options.get("theme")
        if isinstance(theme, dict):
            import json

            options["theme"] = json.dumps(theme)
        return options

    def get_context(self, name, value, attrs):
        context = super().get_context(name, None, attrs)
        request = self.request
        options = self.widget_options()
        server_token, error = "", ""
        action = self.action or ""
        if app_settings.SERVER_TOKENS and action in KNOWN_ACTIONS and request is not None:
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
            app_key = app_settings.APP_KEY
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
            "token_field": app_settings.TOKEN_FIELD,
            "refresh_url": refresh_url,
            "nonce": getattr(request, "csp_nonce", "") if request is not None else "",
            "error": error,
        }
        # The element's attributes, for the boot script: the same values as data-*.
        data = ("app_key", "server_token", "action", "product", "lang", "theme", "refresh_url")
        ours = {"class": "captchala", "data-captchala": True}
        ours |= {"data-" + name.replace("_", "-"): captchala[name] for name in data}
        ours["data-captchala-error"] = error or False
        context["widget"]["attrs"] = self._merged_attrs(context["widget"]["attrs"], ours)
        context["captchala"] = captchala
        return context
