"""A JSON API endpoint protected by a checkpoint (needs the ``drf`` extra)."""

from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from captchala_django.drf import CaptchaLaTokenField, CheckpointRequired


class TransferAPI(APIView):
    """POST needs a passed checkpoint, or a pass token in ``X-CaptchaLa-Token`` or the body.

    ``curl -X POST -H 'X-CaptchaLa-Token: pt_...' -H 'Content-Type: application/json'
    -d '{"amount": 5}' http://127.0.0.1:8000/api/transfer/``
    """

    permission_classes = [CheckpointRequired]
    captchala_action = "transfer"
    captchala_scope = "ip"  # API clients often keep no session cookie

    def post(self, request):
        amount = request.data.get("amount") if hasattr(request.data, "get") else None
        return Response({"ok": True, "amount": amount})


class CommentSerializer(serializers.Serializer):
    text = serializers.CharField(max_length=500)
    captchala_token = CaptchaLaTokenField(action="comment")


class CommentAPI(APIView):
    """POST ``{"text": ..., "captchala_token": ...}``: a bad or missing token is a 400."""

    def post(self, request):
        serializer = CommentSerializer(data=request.data, context={"request": request})
        serializer.is_valid(raise_exception=True)
        return Response({"ok": True, "text": serializer.validated_data["text"]}, status=201)
