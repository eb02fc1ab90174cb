from django.conf import settings
from django.shortcuts import render


def home(request):
    return render(
        request,
        "demo/home.html",
        {
            "sandbox": settings.CAPTCHALA_SANDBOX,
            "api_url": settings.CAPTCHALA_API_URL,
            "loader_url": settings.CAPTCHALA_LOADER_URL,
        },
    )
