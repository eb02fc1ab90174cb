from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.views import PasswordResetView
from django.http import Http404, JsonResponse
from django.middleware.csrf import get_token
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from captchala_django.decorators import checkpoint_required
from captchala_django.sandbox import FAULT_MODES
from captchala_django.sandbox.views import get_sandbox, sandbox_enabled

from .forms import ResetForm, SignupForm, TransferForm

PANEL_MODES = {
    "none": "Normal",
    "slow": "Slow (2 s)",
    "error": "Provider down (503)",
    "timeout": "Provider times out",
    "validate_error": "Validation down (503 after the check)",
    "degraded": "Quota used up (degraded tokens)",
}


def home(request):
    return render(request, "demo/home.html", {"sandbox": sandbox_enabled()})


def signup(request):
    form = SignupForm(request.POST or None, request=request)
    if request.method == "POST" and form.is_valid():
        user = form.save()
        login(request, user)
        messages.success(request, f"Welcome, {user.username}!")
        return redirect("home")
    return render(request, "demo/signup.html", {"form": form})


class ResetView(PasswordResetView):
    form_class = ResetForm
    template_name = "demo/password_reset.html"

    def get_form_kwargs(self):
        return {**super().get_form_kwargs(), "request": self.request}


@checkpoint_required(action="transfer")
def transfer(request):
    """GET shows the form; a POST needs a passed checkpoint (the challenge page asks for it)."""
    form = TransferForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        outcome = request.captchala
        return render(
            request,
            "demo/transfer_done.html",
            {"data": form.cleaned_data, "outcome": outcome},
        )
    return render(request, "demo/transfer.html", {"form": form})


@checkpoint_required(action="transfer")
async def async_transfer(request):
    """The same check in an async view (serve the project under ASGI, e.g. uvicorn
    ``example_project.asgi:application``): the guard's database and provider work run
    in a worker thread. GET gives the CSRF token; a POST needs a passed checkpoint."""
    if request.method == "POST":
        outcome = request.captchala
        return JsonResponse(
            {
                "ok": True,
                "amount": request.POST.get("amount"),
                "degraded": bool(outcome and outcome.degraded),
            }
        )
    return JsonResponse({"csrf_token": get_token(request)})


@require_http_methods(["GET", "POST"])
def sandbox_panel(request):
    """Switch the local sandbox's faults to see each failure path.

    On exactly when the sandbox itself is (CAPTCHALA_SANDBOX, and DEBUG or
    CAPTCHALA_SANDBOX_FORCE): the URL exists whenever CAPTCHALA_SANDBOX is set.
    """
    if not sandbox_enabled():
        raise Http404("the sandbox is off")
    sandbox = get_sandbox()
    if request.method == "POST":
        mode = request.POST.get("mode", "none")
        if mode == "slow":
            sandbox.set_fault("none", latency_ms=2000)
        elif mode in ("error", "timeout"):
            # The whole provider: server tokens cannot be issued either, so pages show
            # the widget's "reload the page to try again" message.
            sandbox.set_fault(mode, hang_seconds=10)
        elif mode == "validate_error":
            # Only validation fails: pages render the widget, and the failure shows where
            # a user meets it, after passing the check.
            sandbox.set_fault("error", endpoint="validate")
        elif mode in FAULT_MODES and mode in PANEL_MODES:
            sandbox.set_fault(mode)
        messages.info(request, f"Sandbox mode: {PANEL_MODES.get(mode, mode)}")
        return redirect("sandbox-panel")
    faults = sandbox.faults
    current = "slow" if faults.mode == "none" and faults.latency_ms else faults.mode
    if faults.mode == "error" and faults.endpoint == "validate":
        current = "validate_error"
    return render(
        request,
        "demo/sandbox_panel.html",
        {"modes": PANEL_MODES, "current": current, "stats": dict(sandbox.stats)},
    )
