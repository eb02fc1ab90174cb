from django.http import JsonResponse

from captchala_django.checkpoints import verify_and_record


def verify_then_maybe_fail(request):
    """Verifies, then fails like a view whose own work broke after the check."""
    outcome = verify_and_record(request, request.POST.get("captchala_token"), scope="ip")
    if request.POST.get("fail"):
        raise RuntimeError("the view's own work failed")
    return JsonResponse({"allowed": outcome.allowed, "class": outcome.failure_class})
