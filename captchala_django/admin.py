"""Read-mostly admin: inspect checkpoints and their event trail; expire or reset them.

Nothing is editable by hand: the add and change forms refuse every POST with 403,
whatever the user's permissions. The two changelist actions are the only
writes; they call the same functions as the runtime
(:func:`~captchala_django.checkpoints.expire`, :func:`~.reset`), so each bumps
the version and writes an event.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from . import checkpoints
from .models import Checkpoint, CheckpointEvent

if TYPE_CHECKING:
    from django.contrib.admin.options import BaseModelAdmin
    from django_stubs_ext import StrOrPromise

    # What the mixins are mixed into, so that mypy sees the attributes and the
    # ``super()`` methods they use; at run time they are plain classes.
    _AnyAdmin = BaseModelAdmin[Any]
    _ModelAdmin = admin.ModelAdmin[Any]
else:
    _AnyAdmin = _ModelAdmin = object


def short_digest(value: str) -> str:
    return f"{value[:10]}…" if value else "—"


class ExpiredFilter(admin.SimpleListFilter):
    title = _("expired")
    parameter_name = "expired"

    def lookups(self, request, model_admin):
        return [("yes", _("Yes")), ("no", _("No"))]

    def queryset(self, request, queryset):
        now = timezone.now()
        expired = Q(expires_at__lte=now) | Q(expires_at__isnull=True)
        if self.value() == "yes":
            return queryset.filter(expired)
        if self.value() == "no":
            return queryset.exclude(expired)
        return queryset


class ReadOnlyMixin(_AnyAdmin):
    """No add, no delete, no edit: every field shown read-only."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_readonly_fields(self, request, obj=None):
        return [*self.fields] if self.fields else [f.name for f in self.model._meta.fields]


class NoFormWritesMixin(_ModelAdmin):
    """Serve the add and change forms for reading only: any method but GET or HEAD is a 403.

    ``has_change_permission`` stays true for superusers (the actions need it), and
    with it Django would save a change-form POST: a full-row UPDATE outside the
    write path, with no version bump and no event.
    """

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        if request.method not in ("GET", "HEAD"):
            raise PermissionDenied
        return super().changeform_view(request, object_id, form_url, extra_context)


class CheckpointEventInline(ReadOnlyMixin, admin.TabularInline):
    model = CheckpointEvent
    fields = (
        "created_at",
        "kind",
        "decision",
        "failure_class",
        "detail",
        "status_code",
        "latency_ms",
        "risk_score",
        "version",
        "request_id",
    )
    ordering = ("created_at", "id")
    extra = 0
    can_delete = False
    show_change_link = False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Checkpoint)
class CheckpointAdmin(NoFormWritesMixin, ReadOnlyMixin, admin.ModelAdmin):
    list_display = (
        "status_badge",
        "scope_kind",
        "route",
        "user",
        "client_ip",
        "version",
        "failure_class",
        "attempts",
        "expires_at",
        "updated_at",
    )
    list_filter = (
        "status",
        "failure_class",
        "scope_kind",
        ExpiredFilter,
        "updated_at",
        "created_at",
    )
    search_fields = ("route", "client_ip", "user__username")
    date_hierarchy = "updated_at"
    list_select_related = ("user",)
    ordering = ("-updated_at",)
    fields = (
        "status",
        "scope_kind",
        "route",
        "user",
        "client_ip",
        "version",
        "attempts",
        "failure_class",
        "failure_detail",
        "token",
        "scope",
        "created_at",
        "updated_at",
        "passed_at",
        "expires_at",
        "request_id",
    )
    inlines = [CheckpointEventInline]
    actions = ["expire_selected", "reset_selected"]
    show_full_result_count = False

    @admin.display(description=_("status"), ordering="status")
    def status_badge(self, obj: Checkpoint) -> StrOrPromise:
        if obj.status == "passed" and not obj.is_passed():
            return _("passed (expired)")
        return obj.get_status_display()

    @admin.display(description=_("token digest"))
    def token(self, obj: Checkpoint) -> str:
        return short_digest(obj.token_digest)

    @admin.display(description=_("scope key"))
    def scope(self, obj: Checkpoint) -> str:
        return short_digest(obj.scope_key)

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        extra_context = {
            **(extra_context or {}),
            "show_save": False,
            "show_save_and_continue": False,
            "show_save_and_add_another": False,
            "show_delete": False,
        }
        return super().changeform_view(request, object_id, form_url, extra_context)

    def _apply(self, request, queryset, function, done_message) -> None:
        keys = list(queryset.values_list("scope_key", flat=True))
        done = sum(function(key, request=request, reason=f"admin: {request.user}") for key in keys)
        self.message_user(request, done_message(done), messages.SUCCESS)

    @admin.action(description=_("Expire selected checkpoints"), permissions=["change"])
    def expire_selected(self, request, queryset):
        self._apply(
            request,
            queryset,
            checkpoints.expire,
            lambda n: ngettext("%d checkpoint expired.", "%d checkpoints expired.", n) % n,
        )

    @admin.action(description=_("Reset selected checkpoints"), permissions=["change"])
    def reset_selected(self, request, queryset):
        self._apply(
            request,
            queryset,
            checkpoints.reset,
            lambda n: ngettext("%d checkpoint reset.", "%d checkpoints reset.", n) % n,
        )


@admin.register(CheckpointEvent)
class CheckpointEventAdmin(NoFormWritesMixin, ReadOnlyMixin, admin.ModelAdmin):
    list_display = (
        "created_at",
        "kind",
        "decision",
        "failure_class",
        "checkpoint_route",
        "version",
        "detail",
        "request_id",
    )
    list_filter = ("kind", "decision", "failure_class", "created_at")
    search_fields = ("request_id", "checkpoint__route", "detail")
    list_select_related = ("checkpoint",)
    date_hierarchy = "created_at"
    ordering = ("-created_at", "-id")
    fields = (
        "checkpoint",
        "kind",
        "created_at",
        "version",
        "decision",
        "failure_class",
        "detail",
        "status_code",
        "latency_ms",
        "risk_score",
        "request_id",
    )
    show_full_result_count = False

    @admin.display(description=_("route"), ordering="checkpoint__route")
    def checkpoint_route(self, obj: CheckpointEvent) -> str:
        return obj.checkpoint.route

    def has_change_permission(self, request, obj=None):
        return False
