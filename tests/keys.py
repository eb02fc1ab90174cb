"""Keys per site for the tests: two CaptchaLa apps on one project, chosen by host."""

from captchala_django.keys import AppKeys

SITE_A = AppKeys("site-a-app-key", "site-a-app-secret-0123456789")
SITE_B = AppKeys("site-b-app-key", "site-b-app-secret-0123456789")


def by_host(request):
    """``a.example`` is app A, ``b.example`` app B; any other host has the settings' keys."""
    host = request.get_host().split(":")[0]
    return {"a.example": SITE_A, "b.example": ("site-b-app-key", SITE_B.app_secret)}.get(host)


def broken(request):
    raise RuntimeError("the tenant table is away")


def wrong_shape(request):
    return "site-a-app-key"
