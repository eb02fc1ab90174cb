"""Form pages as a Wagtail site writes them: the check is on every page of each type."""

from django.db import models
from modelcluster.fields import ParentalKey
from wagtail.admin.panels import FieldPanel, FieldRowPanel, InlinePanel, MultiFieldPanel
from wagtail.contrib.forms.models import AbstractEmailForm, AbstractForm, AbstractFormField
from wagtail.contrib.forms.panels import FormSubmissionsPanel

from captchala_django.contrib.wagtail import CaptchaLaFormPageMixin


class ContactFormField(AbstractFormField):
    page = ParentalKey("ContactPage", on_delete=models.CASCADE, related_name="form_fields")


class ContactPage(CaptchaLaFormPageMixin, AbstractEmailForm):
    """A contact form that mails each submission: the defaults (action ``contact_form``)."""

    thank_you_text = models.TextField(blank=True)

    content_panels = [
        *AbstractEmailForm.content_panels,
        FormSubmissionsPanel(),
        InlinePanel("form_fields", label="Form fields"),
        FieldPanel("thank_you_text"),
        MultiFieldPanel(
            [
                FieldRowPanel([FieldPanel("from_address"), FieldPanel("to_address")]),
                FieldPanel("subject"),
            ],
            "Email",
        ),
    ]


class QuoteFormField(AbstractFormField):
    page = ParentalKey("QuotePage", on_delete=models.CASCADE, related_name="form_fields")


class QuotePage(CaptchaLaFormPageMixin, AbstractForm):
    """A form that only stores submissions, with its own action and field name."""

    captchala_action = "checkout"
    captchala_field_name = "human_check"

    content_panels = [*AbstractForm.content_panels, InlinePanel("form_fields")]
