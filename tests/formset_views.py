"""Pages with several checked forms: a formset, and two prefixed forms side by side."""

from django import forms
from django.http import HttpResponse
from django.template import Context, Template

from captchala_django.fields import CaptchaLaField
from captchala_django.forms import CaptchaLaFormMixin


class NoteForm(CaptchaLaFormMixin, forms.Form):
    note = forms.CharField()
    captcha = CaptchaLaField(action="comment")


NoteFormSet = forms.formset_factory(NoteForm, extra=2)

PAGE = Template(
    "<form method='post'>{{ forms.management_form }}{% for f in forms %}{{ f }}{% endfor %}</form>"
)
PAIR = Template("<form method='post'>{{ a }}{{ b }}</form>")


def formset(request):
    """Each form of the formset carries its own check: saved only when every one passes."""
    kwargs = {"form_kwargs": {"request": request}}
    notes = NoteFormSet(request.POST or None, **kwargs)
    if request.method == "POST" and notes.is_valid():
        return HttpResponse(f"saved {len(notes.forms)}", status=201)
    return HttpResponse(PAGE.render(Context({"forms": notes})))


def pair(request):
    """Two forms of one class on one page, told apart by their prefixes."""
    data = request.POST or None
    a = NoteForm(data, prefix="a", request=request)
    b = NoteForm(data, prefix="b", request=request)
    if request.method == "POST":
        valid = [name for name, form in (("a", a), ("b", b)) if form.is_valid()]
        return HttpResponse(" ".join(valid) or "none", status=201 if valid else 200)
    return HttpResponse(PAIR.render(Context({"a": a, "b": b})))
