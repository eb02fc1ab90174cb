from django.contrib import admin
from django.contrib.auth.views import PasswordResetView
from django.http import HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.debug import sensitive_post_parameters

from captchala_django.admin_login import protect_admin_login
from captchala_django.checkpoints import verify_and_record
from captchala_django.decorators import CheckpointRequiredMixin, checkpoint_required
from tests.forms import SignupForm


def verify_then_maybe_fail(request):
    """Verifies, then fails like a view whose own work broke after the check."""
    outcome = verify_and_record(request, request.POST.get("captchala_token"), scope="ip")
    if request.POST.get("fail"):
        raise RuntimeError("the view's own work failed")
    return JsonResponse({"allowed": outcome.allowed, "class": outcome.failure_class})


def _done(request):
    outcome = getattr(request, "captchala", None)
    return JsonResponse(
        {
            "ok": True,
            "method": request.method,
            "amount": request.POST.get("amount"),
            "class": outcome.failure_class if outcome else None,
            "degraded": outcome.degraded if outcome else None,
        }
    )


@checkpoint_required
def transfer(request):
    return _done(request)


@checkpoint_required(action="transfer", methods=("GET", "POST"), ttl=60)
def statement(request):
    return _done(request)


@checkpoint_required(action="transfer")
async def async_transfer(request):
    return _done(request)


@method_decorator(checkpoint_required(action="transfer"), name="dispatch")
class DecoratedView(View):
    def post(self, request):
        return _done(request)


class MixinView(CheckpointRequiredMixin, View):
    checkpoint_action = "transfer"
    checkpoint_scope = "ip"

    def post(self, request):
        return _done(request)


def plain(request):
    return HttpResponse("ok")


@checkpoint_required
def guarded_plain(request):
    return HttpResponse("ok")


def signup(request):
    form = SignupForm(request.POST or None, request=request)
    if request.method == "POST" and form.is_valid():
        form.save()
        return HttpResponse("created", status=201)
    return render(request, "tests/form.html", {"form": form}, status=400 if form.is_bound else 200)


class ResetView(PasswordResetView):
    template_name = "tests/form.html"
    success_url = "/reset/done/"

    def get_form_kwargs(self):
        return {**super().get_form_kwargs(), "request": self.request}


class SecureAdminSite(admin.AdminSite):
    """A site's own AdminSite, protected by the same one line as ``admin.site``."""


secure_admin = protect_admin_login(SecureAdminSite(name="secure_admin"))


def page(request):
    """A typical small page: one query and a template."""
    from django.contrib.auth import get_user_model

    users = get_user_model().objects.filter(is_active=True).count()
    return render(request, "tests/page.html", {"users": users, "items": range(20)})


guarded_page = checkpoint_required(page)


def typical_page(request):
    """A typical page: it reads ``request.user``, makes one query and renders a template."""
    from django.contrib.auth import get_user_model

    greeting = request.user.get_username() if request.user.is_authenticated else "guest"
    users = get_user_model().objects.filter(is_active=True).count()
    context = {"users": users, "items": range(20), "greeting": greeting}
    return render(request, "tests/page.html", context)


guarded_typical_page = checkpoint_required(typical_page)


@checkpoint_required
def reads_outcome(request):
    """Reads ``request.captchala`` directly, as the README shows (None when not checked)."""
    outcome = request.captchala
    return JsonResponse({"checked": outcome is not None, "method": request.method})


@checkpoint_required
@sensitive_post_parameters("card_number")
def pay(request):
    return _done(request)


class AsyncMixinView(CheckpointRequiredMixin, View):
    checkpoint_action = "transfer"

    async def post(self, request):
        return _done(request)
