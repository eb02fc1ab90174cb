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


# ----------------------------------------------------------------- one token per item, at any depth


class ItemSerializer(serializers.Serializer):
    text = serializers.CharField()
    captchala_token = CaptchaLaTokenField(action="comment")


class InnerSerializer(serializers.Serializer):
    captchala_token = CaptchaLaTokenField(action="comment")


class MiddleSerializer(serializers.Serializer):
    """The token sits one level below the ``many=True`` that holds this serializer."""

    text = serializers.CharField()
    inner = InnerSerializer()


class ItemListSerializer(serializers.Serializer):
    items = serializers.ListField(child=ItemSerializer())


class ItemDictSerializer(serializers.Serializer):
    items = serializers.DictField(child=ItemSerializer())


class ManyAboveInnerSerializer(serializers.Serializer):
    items = MiddleSerializer(many=True)


class GroupSerializer(serializers.Serializer):
    notes = ItemSerializer(many=True)


class GroupsSerializer(serializers.Serializer):
    """``many=True`` inside ``many=True``: a list serializer nested two deep."""

    items = GroupSerializer(many=True)


class ListOfListsSerializer(serializers.Serializer):
    items = serializers.ListField(child=serializers.ListField(child=ItemSerializer()))


NESTED_SHAPES = {
    "list-field": ItemListSerializer,
    "dict-field": ItemDictSerializer,
    "many-above-inner": ManyAboveInnerSerializer,
    "many-in-many": GroupsSerializer,
    "list-of-lists": ListOfListsSerializer,
}


def item_texts(value):
    """The ``text`` of every item in validated data, however deep (never the tokens)."""
    if isinstance(value, dict):
        own = [value["text"]] if "text" in value else []
        return own + [t for key, v in value.items() if key != "text" for t in item_texts(v)]
    if isinstance(value, list):
        return [t for v in value for t in item_texts(v)]
    return []


class NestedItemsView(APIView):
    """Validates the body with the serializer named in the URL; says what it would create."""

    def post(self, request, shape):
        serializer_class = NESTED_SHAPES[shape]
        serializer = serializer_class(data=request.data, context={"request": request})
        if not serializer.is_valid():
            return Response(serializer.errors, status=400)
        return Response({"created": sorted(item_texts(serializer.validated_data))}, status=201)
