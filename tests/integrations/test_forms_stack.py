"""The widget under django-crispy-forms (Bootstrap 5 pack) and Django's Jinja2 form
renderer, with the real packages: the markup, the error a user sees when the check
fails, and the whole flow against the sandbox.

Pages are read with the standard library's ``html.parser``: no regular expressions
on markup, so an attribute is judged by its parsed value, as a browser reads it.
"""

from __future__ import annotations

from html.parser import HTMLParser

import pytest
from django import forms
from django.forms.renderers import DjangoTemplates, Jinja2
from django.test import RequestFactory

from captchala_django import actions
from captchala_django.fields import CaptchaLaField
from captchala_django.forms import CaptchaLaFormMixin
from captchala_django.widgets import CaptchaLaWidget

from .forms_stack.forms import ContactForm

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("captchala_sandbox")]

BOOT = "/static/captchala_django/captchala-boot.js"
FAILED = "The check was not passed. Please try again."
MISSING = "Please complete the check."
CRISPY_PAGES = ["/forms/crispy/", "/forms/crispy-filter/"]
FILLED = {"name": "Ada", "message": "Hello there"}


# ------------------------------------------------------------------ reading HTML

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source"}


class Node:
    def __init__(self, tag: str, attrs: list[tuple[str, str | None]], parent: Node | None):
        self.tag = tag
        self.attr_list = attrs
        self.attrs = dict(attrs)
        self.parent = parent
        self.children: list[Node | str] = []

    @property
    def classes(self) -> set[str]:
        return set((self.attrs.get("class") or "").split())

    @property
    def elements(self) -> list[Node]:
        return [c for c in self.children if isinstance(c, Node)]

    def iter(self):
        yield self
        for child in self.elements:
            yield from child.iter()

    def find_all(self, tag: str | None = None, **attrs: str | None) -> list[Node]:
        """Descendants (and self) with ``tag`` and each of ``attrs``
        (``data_captchala=None``: the attribute is present, whatever its value)."""
        wanted = {k.replace("_", "-"): v for k, v in attrs.items()}
        return [
            n
            for n in self.iter()
            if (tag is None or n.tag == tag)
            and all(k in n.attrs and (v is None or n.attrs[k] == v) for k, v in wanted.items())
        ]

    def with_class(self, name: str) -> list[Node]:
        return [n for n in self.iter() if name in n.classes]

    def text(self) -> str:
        parts = [c if isinstance(c, str) else c.text() for c in self.children]
        return " ".join(" ".join(parts).split())

    def previous_siblings(self) -> list[Node]:
        siblings = self.parent.elements if self.parent else []
        return siblings[: siblings.index(self)]

    def ancestors_and_self(self) -> list[Node]:
        node, chain = self, []
        while node is not None and node.tag != "#root":
            chain.append(node)
            node = node.parent
        return chain


class _TreeBuilder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Node("#root", [], None)
        self.current = self.root

    def handle_starttag(self, tag, attrs):
        node = Node(tag, attrs, self.current)
        self.current.children.append(node)
        if tag not in VOID:
            self.current = node

    def handle_startendtag(self, tag, attrs):
        self.current.children.append(Node(tag, attrs, self.current))

    def handle_endtag(self, tag):
        node = self.current
        while node is not self.root and node.tag != tag:
            node = node.parent
        if node is not self.root:
            self.current = node.parent

    def handle_data(self, data):
        self.current.children.append(data)


def parse(html: str) -> Node:
    builder = _TreeBuilder()
    builder.feed(html)
    builder.close()
    return builder.root


def shape(node: Node | str, mask=("data-server-token",)):
    """The structure of ``node`` as a browser reads it: tags, attributes in order with
    their decoded values, text with whitespace collapsed (and whitespace-only text,
    which the two template engines lay out differently, left out). A server token,
    issued afresh for each render, is masked once checked."""
    if isinstance(node, str):
        return " ".join(node.split())
    attrs = []
    for name, value in node.attr_list:
        if name in mask and value:
            assert value.startswith("sct_"), (name, value)
            value = "<masked>"
        attrs.append((name, value))
    children = tuple(s for s in (shape(c, mask) for c in node.children) if s != "")
    return (node.tag, tuple(attrs), children)


# Bootstrap 5.3 (dist/css/bootstrap.css): ``.invalid-feedback {display: none}``, shown
# by ``.is-invalid ~ .invalid-feedback`` (a preceding sibling), by the ``.was-validated
# :invalid ~`` rule (the browser's own validation, never a server-side error) or by
# ``.d-block`` (``!important``); ``.d-none`` (also ``!important``, and later in the
# file) and ``.visually-hidden`` hide anything.
FEEDBACK = {"invalid-feedback", "invalid-tooltip"}


def _shown_by_bootstrap(node: Node) -> bool:
    classes = node.classes
    style = (node.attrs.get("style") or "").replace(" ", "")
    if "hidden" in node.attrs or "display:none" in style:
        return False
    if classes & {"d-none", "visually-hidden"}:
        return False
    if classes & FEEDBACK:
        return "d-block" in classes or any(
            "is-invalid" in s.classes for s in node.previous_siblings()
        )
    return True


def displayed(node: Node) -> bool:
    """Whether Bootstrap 5's CSS displays ``node``: it and every ancestor are shown."""
    return all(_shown_by_bootstrap(n) for n in node.ancestors_and_self())


def holding(tree: Node, text: str) -> list[Node]:
    """The innermost elements whose text contains ``text``."""
    found = [n for n in tree.iter() if text in n.text()]
    return [n for n in found if not any(text in c.text() for c in n.elements)]


def script_srcs(tree: Node) -> list[str]:
    return [s.attrs.get("src") for s in tree.find_all("script")]


def the_widget(tree: Node) -> Node:
    (widget,) = tree.find_all("span", data_captchala=None)
    return widget


def assert_one_working_widget(tree: Node, loader_url: str, token_field="captchala_token"):
    """One widget with its hidden token input, and the loader and boot script once each."""
    widget = the_widget(tree)
    assert widget.attrs["data-action"] == "contact_form"
    assert widget.attrs["data-app-key"] == "sandbox-app-key"
    assert widget.attrs["data-server-token"].startswith("sct_")
    (token,) = widget.find_all("input")
    assert token.attrs == {
        "type": "hidden",
        "name": token_field,
        "value": "",
        "data-captchala-token": None,
    }
    assert len(tree.find_all("input", name=token_field)) == 1
    assert script_srcs(tree) == [loader_url, BOOT]
    assert all("defer" in s.attrs for s in tree.find_all("script"))
    return widget


# ------------------------------------------------------------------ the HTML reader itself


@pytest.mark.parametrize(
    ("html", "shown"),
    [
        ('<div><div class="form-control"></div><div class="invalid-feedback">E</div></div>', 0),
        ('<div><div class="is-invalid"></div><script></script><p class="invalid-feedback">E', 1),
        ('<div><p class="invalid-feedback">E</p><div class="is-invalid"></div></div>', 0),
        ('<div><div><i class="is-invalid"></i></div><p class="invalid-feedback">E</p></div>', 0),
        ('<div><p class="invalid-feedback d-block">E</p></div>', 1),
        ('<div class="d-none"><i class="is-invalid"></i><p class="invalid-feedback">E</p>', 0),
        ('<div hidden><p class="form-text">E</p></div>', 0),
        ("<ul class='errorlist'><li><strong>E</strong></li></ul>", 1),
    ],
)
def test_crispy_visibility_rule_tells_a_hidden_error_from_a_shown_one(html, shown):
    """The Bootstrap rule the crispy tests rely on: only a preceding ``.is-invalid``
    sibling (or ``d-block``) shows an ``.invalid-feedback``."""
    (error,) = holding(parse(html), "E")
    assert displayed(error) is bool(shown)


# ------------------------------------------------------------------ crispy-forms


@pytest.mark.parametrize("url", CRISPY_PAGES)
def test_crispy_page_renders_one_widget_with_its_scripts_once_and_no_label(
    client, captchala_sandbox, url
):
    response = client.get(url)
    assert response.status_code == 200
    tree = parse(response.content.decode())
    (form,) = tree.find_all("form")
    widget = assert_one_working_widget(form, captchala_sandbox.loader_url)
    # The field's label is empty: no label at all for it, not even an empty one.
    labels = tree.find_all("label") + tree.find_all("legend")
    assert [label.attrs.get("for") for label in labels] == ["id_name", "id_message"]
    assert all(label.text() for label in labels)
    (wrapper,) = tree.find_all("div", id="div_id_captcha")
    assert widget.parent is wrapper
    assert not wrapper.find_all("label") and not wrapper.find_all("legend")
    # No error yet, so no error element.
    assert not tree.with_class("invalid-feedback") and "is-invalid" not in widget.classes


@pytest.mark.parametrize("url", CRISPY_PAGES)
@pytest.mark.parametrize(
    ("token", "message", "validate_calls"),
    [("made-up-token-0001", FAILED, 1), (None, MISSING, 0)],
    ids=["made-up", "missing"],
)
def test_crispy_failed_check_shows_its_error_under_bootstrap(
    client, captchala_sandbox, url, token, message, validate_calls
):
    data = dict(FILLED, **({"captchala_token": token} if token else {}))
    response = client.post(url, data)
    assert response.status_code == 200  # re-rendered, not sent
    assert captchala_sandbox.count("validate") == validate_calls
    tree = parse(response.content.decode())
    widget = assert_one_working_widget(tree, captchala_sandbox.loader_url)
    (error,) = holding(tree, message)
    assert displayed(error), "Bootstrap would hide the check's error"
    (feedback,) = [n for n in error.ancestors_and_self() if n.classes & FEEDBACK]
    assert "is-invalid" in widget.classes and widget.parent is feedback.parent
    assert "form-control" not in widget.classes and "required" not in widget.attrs
    # Tied to the widget for assistive technology too.
    assert widget.attrs["aria-invalid"] == "true"
    assert widget.attrs["aria-describedby"] == feedback.attrs["id"] == "id_captcha_error"
    # Only the check failed: what the user typed is kept, and no other field complains.
    assert tree.find_all("input", name="name")[0].attrs["value"] == "Ada"
    assert len(tree.with_class("invalid-feedback")) == 1


@pytest.mark.parametrize("url", CRISPY_PAGES)
def test_crispy_page_sends_with_a_sandbox_pass_and_refuses_it_twice(client, captchala_sandbox, url):
    token = captchala_sandbox.mint_pass_token("contact_form")
    response = client.post(url, dict(FILLED, captchala_token=token))
    assert response.status_code == 302 and response["Location"] == "/forms/sent/"
    assert client.get(response["Location"]).content == b"Thank you, your message was sent."
    # One solve, one message: the same token again is a replay.
    again = client.post(url, dict(FILLED, captchala_token=token))
    assert again.status_code == 200
    assert displayed(holding(parse(again.content.decode()), FAILED)[0])


# ------------------------------------------------------------------ Jinja2 form renderer


def test_jinja2_form_renderer_loads_the_packaged_jinja2_template():
    """Django's Jinja2 renderer reads only ``jinja2/`` directories: the twin is found there."""
    template = Jinja2().get_template("captchala_django/widget.html")
    path = "captchala_django/jinja2/captchala_django/widget.html"
    assert template.template.filename.endswith(path)


class Options(CaptchaLaFormMixin, forms.Form):
    captcha = CaptchaLaField(
        action="transfer",  # mapped to "checkout" by the test settings
        widget=CaptchaLaWidget(
            attrs={"class": "mine", "data-note": "it's <b>"},
            product="popup",
            lang="fr",
            theme={"custom": {"color": "#f00", "label": "\"quoted\" & 'single'"}},
        ),
    )


def _scenario(name, captchala_sandbox, request):
    """A form for each case the two engines must agree on, and what the case must show."""
    if name == "defaults":
        return ContactForm(request=request), {"data-action": "contact_form"}
    if name == "options":
        return Options(request=request), {
            "class": "captchala mine",
            "data-action": "checkout",
            "data-product": "popup",
            "data-lang": "fr",
            "data-note": "it's <b>",
            "data-theme": '{"custom": {"color": "#f00", "label": "\\"quoted\\" & \'single\'"}}',
        }
    if name == "nonce":
        request.csp_nonce = "n0nce-jinja"
        return ContactForm(request=request), {"data-action": "contact_form"}
    if name == "prefix":
        return ContactForm(request=request, prefix="second"), {"id": "id_second-captcha"}
    if name == "issue-failure":
        captchala_sandbox.set_fault("error")
        return ContactForm(request=request), {"data-captchala-error": "unavailable"}
    if name == "bound-with-errors":
        data = dict(FILLED, captchala_token="made-up-token-0002")
        form = ContactForm(data, request=request)
        assert not form.is_valid()
        return form, {"aria-invalid": "true", "aria-describedby": "id_captcha_error"}
    raise AssertionError(name)


SCENARIOS = ["defaults", "options", "nonce", "prefix", "issue-failure", "bound-with-errors"]


@pytest.mark.parametrize("name", SCENARIOS)
def test_jinja2_renderer_renders_the_same_form_as_django_templates(
    settings, captchala_sandbox, name
):
    """The whole form, parsed, is the same under both engines: attributes (in order, by
    their decoded values), the hidden input, the scripts, the errors."""
    html = {}
    for engine, renderer in (("django", DjangoTemplates), ("jinja2", Jinja2)):
        settings.FORM_RENDERER = f"{renderer.__module__}.{renderer.__name__}"
        form, expected = _scenario(name, captchala_sandbox, RequestFactory().post("/"))
        assert type(form.renderer) is renderer
        html[engine] = str(form)
    dtl, jinja = parse(html["django"]), parse(html["jinja2"])
    assert shape(jinja) == shape(dtl)
    # ... and is what the case is about, so the comparison is never of two empty pages.
    widget = the_widget(jinja)
    assert {k: widget.attrs.get(k) for k in expected} == expected
    token_field = form.add_prefix("captchala_token")
    assert [i.attrs["name"] for i in widget.find_all("input")] == [token_field]
    if name == "issue-failure":
        assert widget.attrs["data-server-token"] == ""
        (alert,) = widget.find_all("span", role="alert")
        assert alert.text() == "The check could not be loaded. Please reload the page to try again."
        assert script_srcs(jinja) == []
    else:
        assert script_srcs(jinja) == [captchala_sandbox.loader_url, BOOT]
    if name == "nonce":
        assert [s.attrs.get("nonce") for s in jinja.find_all("script")] == ["n0nce-jinja"] * 2
    if name == "bound-with-errors":
        (errors,) = jinja.find_all("ul", id="id_captcha_error")
        assert errors.text() == FAILED


def test_jinja2_widget_writes_the_csp_nonce_on_both_scripts(settings):
    settings.FORM_RENDERER = "django.forms.renderers.Jinja2"
    request = RequestFactory().get("/")
    request.csp_nonce = "r4nd0m-n0nce"
    tree = parse(str(ContactForm(request=request)["captcha"]))
    scripts = tree.find_all("script")
    assert len(scripts) == 2 and all(s.attrs["nonce"] == "r4nd0m-n0nce" for s in scripts)
    # Without one, no nonce attribute at all (never nonce="").
    bare = parse(str(ContactForm(request=RequestFactory().get("/"))["captcha"]))
    assert len(bare.find_all("script")) == 2 and not bare.find_all(nonce=None)


HOSTILE_THEME = '"><script>alert(1)</script>'
HOSTILE_LANG = "fr\" onmouseover=\"alert('lang')"
HOSTILE_NOTE = "<img src=x onerror=alert(2)>"
HOSTILE_NONCE = 'n"><script>alert(3)</script>'
HOSTILE_ACTION = 'x"><svg onload=alert(4)>'


@pytest.mark.parametrize("renderer", [Jinja2, DjangoTemplates], ids=["jinja2", "django"])
def test_jinja2_widget_escapes_hostile_attribute_values(settings, monkeypatch, renderer):
    """Options, attributes and the nonce come through as values, never as markup: the
    page parses to the widget's own four elements and each value reads back intact."""
    monkeypatch.setattr(actions, "_DECLARED", set(actions._DECLARED))  # W007's registry
    settings.FORM_RENDERER = f"{renderer.__module__}.{renderer.__name__}"

    class Hostile(CaptchaLaFormMixin, forms.Form):
        captcha = CaptchaLaField(
            action=HOSTILE_ACTION,
            widget=CaptchaLaWidget(
                attrs={"data-note": HOSTILE_NOTE}, lang=HOSTILE_LANG, theme=HOSTILE_THEME
            ),
        )

    request = RequestFactory().get("/")
    request.csp_nonce = HOSTILE_NONCE
    html = str(Hostile(request=request)["captcha"])
    tree = parse(html)
    assert [n.tag for n in tree.iter()] == ["#root", "span", "input", "script", "script"]
    widget = the_widget(tree)
    assert widget.attrs["data-theme"] == HOSTILE_THEME
    assert widget.attrs["data-lang"] == HOSTILE_LANG
    assert widget.attrs["data-note"] == HOSTILE_NOTE
    # A site's action name never reaches the page: it runs as the provider's action.
    assert widget.attrs["data-action"] == "generic_form"
    assert [s.attrs["nonce"] for s in tree.find_all("script")] == [HOSTILE_NONCE] * 2
    names = {name for n in tree.iter() for name in n.attrs}
    assert not [name for name in names if name.startswith("on")]  # no event handler
    for raw in ("<script>alert", "<img", "<svg", 'onmouseover="alert'):
        assert raw not in html


# ------------------------------------------------------------------ a Jinja2 page


def test_jinja2_page_renders_the_form_with_one_widget(client, captchala_sandbox):
    response = client.get("/forms/jinja2/")
    assert response.status_code == 200
    page = response.content.decode()
    tree = parse(page)
    (form,) = tree.find_all("form", method="post")
    assert_one_working_widget(form, captchala_sandbox.loader_url)
    assert form.find_all("input", name="csrfmiddlewaretoken", type="hidden")
    assert form.find_all("input", name="name") and form.find_all("textarea", name="message")
    assert "&lt;div" not in page  # the form is markup, not text escaped by the page


def test_jinja2_page_sends_with_a_sandbox_pass(client, captchala_sandbox):
    token = captchala_sandbox.mint_pass_token("contact_form")
    response = client.post("/forms/jinja2/", dict(FILLED, captchala_token=token))
    assert response.status_code == 302 and response["Location"] == "/forms/sent/"
    assert captchala_sandbox.count("validate") == 1


def test_jinja2_page_refuses_a_made_up_token_and_says_so(client, captchala_sandbox):
    response = client.post("/forms/jinja2/", dict(FILLED, captchala_token="made-up-token-0003"))
    assert response.status_code == 200
    assert captchala_sandbox.count("validate") == 1
    tree = parse(response.content.decode())
    widget = assert_one_working_widget(tree, captchala_sandbox.loader_url)
    (errors,) = tree.find_all("ul", id="id_captcha_error")
    assert errors.text() == FAILED and displayed(errors)
    assert widget.attrs["aria-describedby"] == "id_captcha_error"
