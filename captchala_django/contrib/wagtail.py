"""Wagtail's form builder (``wagtail.contrib.forms``): the check on every form page of a type.

::

    from captchala_django.contrib.wagtail import CaptchaLaFormPageMixin

    class ContactPage(CaptchaLaFormPageMixin, AbstractEmailForm):
        ...

Every page of that type then checks each submission: no code per page, nothing for the
editor to add, and nothing an editor can switch off. The check is the page type's, as
its template is, not content: a per-page toggle would let anyone who may edit a page
(or a slip of the mouse) open the form to bots, and a page whose form should take no
check belongs to a page type without the mixin.

The form is given the request explicitly (Wagtail's ``serve`` builds it without one),
so neither ``RequestContextMiddleware`` nor any other middleware is needed. The token
never reaches ``form.cleaned_data``, and so neither the stored submission
(``FormSubmission.form_data``), the submissions listing and its CSV export, nor the
notification e-mail.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, ClassVar

from django import forms
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest, HttpResponse

try:
    from wagtail.contrib.forms.models import FormMixin
except ImportError as exc:  # pragma: no cover - exercised by a subprocess test
    raise ImportError(
        "captchala_django.contrib.wagtail needs Wagtail, with wagtail.contrib.forms in "
        "INSTALLED_APPS: pip install wagtail"
    ) from exc

from ..actions import note_action
from ..conf import app_settings
from ..fields import CaptchaLaField
from ..forms import CaptchaLaFormMixin

__all__ = ["CaptchaLaFormPageMixin"]

if TYPE_CHECKING:
    # What the mixins are mixed into, so that their ``super()`` calls are typed; at run
    # time they are plain classes, listed before the Wagtail form page or form they extend.
    from django.forms import Form as _Form
    from wagtail.contrib.forms.models import FormMixin as _FormPage
else:
    _FormPage = _Form = object

#: The request a form page is serving (or previewing), while Wagtail builds its form.
_serving: ContextVar[HttpRequest | None] = ContextVar("captchala_wagtail_page", default=None)


@contextmanager
def _building_forms_for(request: HttpRequest) -> Iterator[None]:
    token = _serving.set(request)
    try:
        yield
    finally:
        _serving.reset(token)


class _CheckedForm(CaptchaLaFormMixin, _Form):
    """What a form page's form class gains: ``request=``, and a ``cleaned_data``
    without the check's field, so that Wagtail stores, lists and mails no token."""

    captchala_field_name: ClassVar[str]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        data: dict[str, Any] = self.cleaned_data if cleaned is None else cleaned
        data.pop(self.captchala_field_name, None)
        return data


class CaptchaLaFormPageMixin(_FormPage):
    """A ``CaptchaLaField`` on the form of every page of a Wagtail form page type.

    List it first: ``class ContactPage(CaptchaLaFormPageMixin, AbstractEmailForm)``
    (a class that lists it after Wagtail's ``FormMixin`` is refused when defined).
    ``captchala_action`` and ``captchala_field_name`` set the check's action and the
    form field's name; override :meth:`get_captchala_field` for the field's other
    options (``product``, ``lang``, ``max_risk``...). An editor's form field of the
    same name as the check's field or its token (``CAPTCHALA_TOKEN_FIELD``) is left
    out of the form and the submissions' columns: it could only ever hold the token.
    Code that builds the form outside ``serve`` passes the request:
    ``page.get_form(page=page, user=request.user, request=request)``.
    """

    #: The action the check is solved and verified for.
    captchala_action: ClassVar[str] = "contact_form"
    #: The form field's name (errors are reported under it); the token itself is
    #: posted under ``CAPTCHALA_TOKEN_FIELD``.
    captchala_field_name: ClassVar[str] = "captchala"

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        _check_page_class(cls)
        note_action(cls.captchala_action)

    def get_captchala_field(self) -> CaptchaLaField:
        """The check's form field; a new one for each form class."""
        return CaptchaLaField(action=self.captchala_action)

    def _reserved_names(self) -> set[str]:
        return {self.captchala_field_name, app_settings.TOKEN_FIELD}

    def get_form_class(self) -> type[forms.Form]:
        """The form builder's form, with the check's field last."""
        form_class: type[forms.Form] = super().get_form_class()
        # None removes a field the form builder made from an editor's field of that name.
        attrs: dict[str, Any] = dict.fromkeys(self._reserved_names() & set(form_class.base_fields))
        attrs[self.captchala_field_name] = self.get_captchala_field()
        attrs["captchala_field_name"] = self.captchala_field_name
        attrs["__module__"] = form_class.__module__
        return type(form_class.__name__, (_CheckedForm, form_class), attrs)

    def get_form(self, *args: Any, request: HttpRequest | None = None, **kwargs: Any) -> Any:
        """The form, given ``request``, else the request the page is serving."""
        form = super().get_form(*args, **kwargs)
        if not isinstance(form.fields.get(self.captchala_field_name), CaptchaLaField):
            raise ImproperlyConfigured(
                f"{type(self).__qualname__}'s form has no CaptchaLaField named "
                f"{self.captchala_field_name!r}: its get_form_class() must call super()."
            )
        form.request = request if request is not None else _serving.get()
        return form

    def serve(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        """Wagtail's ``serve``, its forms built for ``request``."""
        with _building_forms_for(request):
            response: HttpResponse = super().serve(request, *args, **kwargs)
        return response

    def get_preview_context(self, request: HttpRequest, mode_name: str) -> dict[str, Any]:
        """Wagtail's preview context, its form built for ``request``."""
        with _building_forms_for(request):
            context: dict[str, Any] = super().get_preview_context(request, mode_name)
        return context

    def get_data_fields(self) -> list[tuple[str, Any]]:
        """The submissions' columns (listing and CSV export), never the check's."""
        reserved = self._reserved_names()
        fields: list[tuple[str, Any]] = super().get_data_fields()
        return [(name, label) for name, label in fields if name not in reserved]


def _check_page_class(cls: type[CaptchaLaFormPageMixin]) -> None:
    """Refuse, when it is defined, a page class whose check would not run or not work."""
    action, name = cls.captchala_action, cls.captchala_field_name
    if not isinstance(action, str) or not action:
        raise ImproperlyConfigured(f"{cls.__qualname__}.captchala_action must name an action.")
    if not isinstance(name, str) or not name.isidentifier():
        raise ImproperlyConfigured(
            f"{cls.__qualname__}.captchala_field_name must be a Python identifier."
        )
    mro = cls.__mro__
    if FormMixin in mro and mro.index(FormMixin) < mro.index(CaptchaLaFormPageMixin):
        raise ImproperlyConfigured(
            f"{cls.__qualname__} lists CaptchaLaFormPageMixin after Wagtail's form page, "
            "whose methods then run instead of the check: list it first, as in "
            f"class {cls.__name__}(CaptchaLaFormPageMixin, AbstractEmailForm)."
        )
