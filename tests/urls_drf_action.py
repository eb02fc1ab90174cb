"""A URLconf whose only guarded view is a DRF view naming an action the provider does
not know (system check W007 must name it)."""

from django.urls import include, path
from rest_framework.response import Response
from rest_framework.views import APIView

from captchala_django.drf import CheckpointRequired


class WireView(APIView):
    permission_classes = [CheckpointRequired]
    captchala_action = "wire"

    def post(self, request):
        return Response({"ok": True})


urlpatterns = [path("api/", include([path("wire/", WireView.as_view(), name="wire")]))]
