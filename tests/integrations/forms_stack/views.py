"""One contact view, served through each rendering stack."""

from pathlib import Path

from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.template.backends.jinja2 import Jinja2

from .forms import ContactForm, CrispyContactForm, JinjaContactForm

#: The Jinja2 page's engine, as a TEMPLATES entry with
#: ``"BACKEND": "django.template.backends.jinja2.Jinja2"`` builds it.
JINJA2_PAGES = Jinja2(
    {
        "NAME": "forms_stack_jinja2",
        "DIRS": [Path(__file__).parent / "jinja2"],
        "APP_DIRS": False,
        "OPTIONS": {},
    }
)


def _contact_view(form_class, render_page):
    """A contact page: its form, re-rendered with its errors, or a redirect once it passes."""

    def view(request):
        data = request.POST if request.method == "POST" else None
        form = form_class(data, request=request)
        if form.is_bound and form.is_valid():
            return redirect("forms_stack:sent")
        return render_page(request, form)

    return view


def _django_page(template_name):
    return lambda request, form: render(request, template_name, {"form": form})


def _jinja2_page(request, form):
    page = JINJA2_PAGES.get_template("forms_stack/contact.html")
    return HttpResponse(page.render({"form": form}, request))


crispy_tag = _contact_view(CrispyContactForm, _django_page("forms_stack/crispy_tag.html"))
crispy_filter = _contact_view(ContactForm, _django_page("forms_stack/crispy_filter.html"))
jinja2_page = _contact_view(JinjaContactForm, _jinja2_page)


def sent(request):
    return HttpResponse("Thank you, your message was sent.")
