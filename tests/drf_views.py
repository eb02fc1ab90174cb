"""API views for the DRF tests (imported only when Django REST framework is installed)."""

from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from captchala_django.drf import CaptchaLaTokenField, CheckpointRequired


class CommentSerializer(serializers.Serializer):
    text = serializers.CharField()
    captchala_token = CaptchaLaTokenField(action="comment")


class CommentView(APIView):
    def post(self, request):
        serializer = CommentSerializer(data=request.data, context={"request": request})
        serializer.is_valid(raise_exception=True)
        serializer.is_valid(raise_exception=True)  # a second validation makes no second call
        outcome = serializer.captchala_outcome
        return Response({"ok": True, "checkpoint": outcome.checkpoint.pk}, status=201)


class TransferView(APIView):
    permission_classes = [CheckpointRequired]
    captchala_scope = "ip"
    captchala_action = "transfer"

    def get(self, request):
        return Response({"balance": 100})

    def post(self, request):
        outcome = getattr(request, "captchala", None)
        return Response({"ok": True, "verified": outcome is not None})


class NoteSerializer(serializers.Serializer):
    text = serializers.CharField()
    captchala_token = CaptchaLaTokenField(action="comment")


class BulkNotesView(APIView):
    """``many=True``: one token field shared by every item of the list."""

    def post(self, request):
        serializer = NoteSerializer(data=request.data, many=True, context={"request": request})
        serializer.is_valid(raise_exception=True)
        return Response({"created": len(serializer.validated_data)}, status=201)


class EditNoteView(APIView):
    """A partial update, as ``ModelViewSet.partial_update`` validates one."""

    def patch(self, request):
        serializer = NoteSerializer(data=request.data, partial=True, context={"request": request})
        serializer.is_valid(raise_exception=True)
        return Response({"updated": serializer.validated_data.get("text")})
