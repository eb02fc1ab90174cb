"""A contact form with a check, as a site would write it for each renderer."""

from crispy_forms.helper import FormHelper
from crispy_forms.layout import Submit
from django import forms
from django.forms.renderers import Jinja2

from captchala_django.fields import CaptchaLaField
from captchala_django.forms import CaptchaLaFormMixin


class ContactForm(CaptchaLaFormMixin, forms.Form):
    name = forms.CharField(max_length=100)
    message = forms.CharField(widget=forms.Textarea)
    captcha = CaptchaLaField(action="contact_form")


class CrispyContactForm(ContactForm):
    """Rendered by ``{% crispy form %}``."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.helper = FormHelper()
        # The widget writes its two scripts itself: crispy's copy of form.media
        # would load each of them a second time.
        self.helper.include_media = False
        self.helper.add_input(Submit("submit", "Send"))


class JinjaContactForm(ContactForm):
    """Rendered by Django's Jinja2 form renderer (captchala_django/jinja2/...)."""

    default_renderer = Jinja2()
