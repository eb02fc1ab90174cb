"""Read-mostly admin: inspect checkpoints and their event trail; expire or reset them.

Nothing is editable by hand: the add and change forms refuse every POST with 403,
whatever the user's permissions. The two changelist actions are the only
writes; they call the same functions as the runtime
(:func:`~captchala_django.checkpoints.expire`, :func:`~.reset`), so each bumps
the version and writes an event.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.utils import timezone
from django.utils.html import escape, format_html
from django.utils.safestring import mark_safe
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from . import checkpoints, stepup
from .checkpoints import rows
from .models import AttemptCount, Checkpoint, CheckpointEvent, UnderAttack

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

    ``has_change_permission`` stays true without an object for those who have it
    (the changelist actions need it), and false for every object: so the detail
    page is "View checkpoint", read-only, even for superusers. The 403 stays as a
    second guard: with the permission Django would save a change-form POST, a
    full-row UPDATE outside the write path, with no version bump and no event.
    """

    class Media:
        css = {"all": ["captchala_django/dashboard.css"]}

    def has_change_permission(self, request, obj=None):
        if obj is not None:
            return False
        return super().has_change_permission(request, obj)

    def get_model_perms(self, request):
        # The admin index's link: "View" (no row is changed by hand), whatever the actions need.
        return {**super().get_model_perms(request), "change": False}

    def changelist_view(self, request, extra_context=None):
        title = gettext("Select %s to view") % self.opts.verbose_name
        return super().changelist_view(request, {"title": title, **(extra_context or {})})

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        if request.method not in ("GET", "HEAD"):
            raise PermissionDenied
        return super().changeform_view(request, object_id, form_url, extra_context)


def _two_lines(main: object, quiet: object) -> str:
    """A list cell: ``main``, and ``quiet`` under it in small type."""
    return format_html('{}<br><span class="cl-quiet">{}</span>', main, quiet)


def _breakable(text: str, marks: str = "/:.-_") -> str:
    """``text`` escaped, with a line-break opportunity after each of ``marks``: a long
    route or IPv6 address wraps at its separators instead of widening its column."""
    escaped = str(escape(text))
    for mark in marks:
        escaped = escaped.replace(mark, mark + "<wbr>")
    return mark_safe(escaped)  # noqa: S308 - escaped above; only <wbr> added


def _moment(value: datetime | None, seconds: bool = False) -> str:
    """A short local date and time (``2026-11-30 12:22``), or a dash."""
    if value is None:
        return "—"
    return f"{timezone.localtime(value):%Y-%m-%d %H:%M{':%S' if seconds else ''}}"


def _at(event: CheckpointEvent) -> str:
    """When an event happened: the local time to the millisecond, the date under it."""
    moment = timezone.localtime(event.created_at)
    return _two_lines(f"{moment:%H:%M:%S}.{moment.microsecond // 1000:03d}", f"{moment:%Y-%m-%d}")


def _short_id(request_id: str) -> str:
    """A request id's first 8 characters, the whole id in the tooltip."""
    if len(request_id) <= 10:
        return request_id or "—"
    return format_html('<span title="{}">{}…</span>', request_id, request_id[:8])


def _outcome(event: CheckpointEvent) -> str:
    """The decision and failure class of an event: ``deny · validation``."""
    return " · ".join(part for part in (event.decision, event.failure_class) if part) or "—"


def _code(event: CheckpointEvent) -> str:
    """The outcome code and the detail (a token hint, a reason) in one cell."""
    parts = (event.code, event.detail if event.detail != event.code else "")
    return _breakable(" · ".join(part for part in parts if part) or "—", "_")


def _provider(event: CheckpointEvent) -> str:
    """The provider's side of an event in one cell: status, latency, risk, platform, the
    address it saw the check solved from when that was not the request's, and the app."""
    parts = []
    if event.status_code is not None:
        parts.append(str(event.status_code))
    if event.latency_ms is not None:
        parts.append(f"{event.latency_ms} ms")
    if event.risk_score is not None:
        parts.append(f"risk {event.risk_score}")
    if event.platform:
        parts.append(event.platform)
    if event.provider_ip:
        parts.append(gettext("saw %(address)s") % {"address": event.provider_ip})
    if event.app_key:  # keys per site: the app that judged it
        parts.append(event.app_key)
    return " · ".join(parts) or "—"


class CheckpointEventInline(ReadOnlyMixin, admin.TabularInline):
    """The event trail as a compact timeline: one short row per event, oldest first."""

    model = CheckpointEvent
    verbose_name_plural = _("event timeline")
    fields = ("at", "kind", "outcome", "code_and_detail", "provider", "v", "short_request_id")
    ordering = ("created_at", "id")
    extra = 0
    can_delete = False
    show_change_link = False
    classes = ("captchala-timeline",)

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description=_("at"))
    def at(self, obj: CheckpointEvent) -> str:
        return _at(obj)

    @admin.display(description=_("outcome"))
    def outcome(self, obj: CheckpointEvent) -> str:
        return _outcome(obj)

    @admin.display(description=_("detail"))
    def code_and_detail(self, obj: CheckpointEvent) -> str:
        return _code(obj)

    @admin.display(description=_("version"))
    def v(self, obj: CheckpointEvent) -> str:
        return f"v{obj.version}"

    @admin.display(description=_("provider"))
    def provider(self, obj: CheckpointEvent) -> str:
        return _provider(obj)

    @admin.display(description=_("request id"))
    def short_request_id(self, obj: CheckpointEvent) -> str:
        return _short_id(obj.request_id)


@admin.register(Checkpoint)
class CheckpointAdmin(NoFormWritesMixin, ReadOnlyMixin, admin.ModelAdmin):
    # Two values to a cell where they belong together, so that the list fits beside the
    # admin's navigation and filter columns (1100 px) without a clipped column.
    list_display = (
        "status_badge",
        "route_and_scope",
        "client",
        "version_and_attempts",
        "updated",
    )
    list_filter = (
        "status",
        "failure_class",
        "scope_kind",
        ExpiredFilter,
        "updated_at",
        "created_at",
    )
    # A request id finds its checkpoint through any of its events (the changelist
    # filters with EXISTS over a multi-valued lookup, so no row is listed twice).
    search_fields = ("route", "client_ip", "user__username", "=request_id", "=events__request_id")
    search_help_text = _("Route, client IP, username or request id.")
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
        label = (
            _("passed (expired)")
            if obj.status == "passed" and not obj.is_passed()
            else obj.get_status_display()
        )
        return _two_lines(label, obj.failure_class) if obj.failure_class else label

    @admin.display(description=_("route"), ordering="route")
    def route_and_scope(self, obj: Checkpoint) -> str:
        return _two_lines(_breakable(obj.route or "—"), obj.scope_kind)

    @admin.display(description=_("client"), ordering="client_ip")
    def client(self, obj: Checkpoint) -> str:
        address = _breakable(obj.client_ip or "—", ":")
        return _two_lines(address, obj.user.get_username()) if obj.user is not None else address

    @admin.display(description=_("version"), ordering="version")
    def version_and_attempts(self, obj: Checkpoint) -> str:
        tries = ngettext("%d attempt", "%d attempts", obj.attempts) % obj.attempts
        return _two_lines(f"v{obj.version}", tries)

    @admin.display(description=_("updated"), ordering="updated_at")
    def updated(self, obj: Checkpoint) -> str:
        expires = _("expires %(at)s") % {"at": _moment(obj.expires_at)}
        return _two_lines(_moment(obj.updated_at), expires)

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
    # Compact like the checkpoint list: it fits beside the navigation and filter columns.
    list_display = ("at", "event", "checkpoint_route", "code_and_detail", "short_request_id")
    list_filter = ("kind", "decision", "failure_class", "created_at")
    search_fields = ("request_id", "checkpoint__route", "code", "detail")
    search_help_text = _("Request id, route or detail.")
    list_select_related = ("checkpoint",)
    date_hierarchy = "created_at"
    ordering = ("-created_at", "-id")
    # The record's columns as every writer writes them.
    fields = ("checkpoint", "version", *rows.RECORD_COLUMNS)
    show_full_result_count = False

    @admin.display(description=_("at"), ordering="created_at")
    def at(self, obj: CheckpointEvent) -> str:
        return _at(obj)

    @admin.display(description=_("kind"), ordering="kind")
    def event(self, obj: CheckpointEvent) -> str:
        outcome = _outcome(obj)
        kind = obj.get_kind_display()
        return _two_lines(kind, outcome) if outcome != "—" else kind

    @admin.display(description=_("route"), ordering="checkpoint__route")
    def checkpoint_route(self, obj: CheckpointEvent) -> str:
        return _two_lines(_breakable(obj.checkpoint.route or "—"), f"v{obj.version}")

    @admin.display(description=_("detail"), ordering="code")
    def code_and_detail(self, obj: CheckpointEvent) -> str:
        return _code(obj)

    @admin.display(description=_("request id"), ordering="request_id")
    def short_request_id(self, obj: CheckpointEvent) -> str:
        return _short_id(obj.request_id)

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(AttemptCount)
class AttemptCountAdmin(NoFormWritesMixin, ReadOnlyMixin, admin.ModelAdmin):
    """The step-up's counts. The table keeps no name: the search box takes a username, an
    address or a session key and looks up its keyed hash. Clearing a count lets its
    username, address or session in without the check until it fails again."""

    list_display = ("kind", "key", "count", "window_ends", "needs_check")
    list_filter = ("kind",)
    search_fields = ("key_digest",)
    search_help_text = _("A username, a client address or a session key.")
    actions = ["clear_selected"]
    ordering = ("-count",)

    @admin.display(description=_("key (keyed hash)"))
    def key(self, obj: AttemptCount) -> str:
        return short_digest(obj.key_digest)

    @admin.display(description=_("needs the check"), boolean=True)
    def needs_check(self, obj: AttemptCount) -> bool:
        policy = stepup.StepUp.of(True)
        threshold = getattr(policy, obj.kind, None) if policy is not None else None
        return bool(threshold and obj.window_ends > timezone.now() and obj.count >= threshold)

    def get_search_results(self, request, queryset, search_term):
        if not search_term.strip():
            return queryset, False
        return queryset.filter(key_digest__in=stepup.digests_of(search_term)), False

    @admin.action(description=_("Clear selected counts"), permissions=["change"])
    def clear_selected(self, request, queryset):
        done, _by_model = queryset.delete()
        message = ngettext("%d count cleared.", "%d counts cleared.", done) % done
        self.message_user(request, message, messages.SUCCESS)


@admin.register(UnderAttack)
class UnderAttackAdmin(admin.ModelAdmin):
    """Switch "under attack" by hand: every front door with ``step_up`` on the route
    (``*``: every route) asks for the check until the end. An episode saved here is never
    shortened or renewed by the verdict; "End now" ends one."""

    list_display = ("route", "started_at", "ends_at", "by_hand", "reason")
    fields = ("route", "ends_at", "reason")
    actions = ["end_now"]

    def save_model(self, request, obj, form, change):
        obj.by_hand = True
        if not change:
            obj.started_at = timezone.now()
        super().save_model(request, obj, form, change)

    @admin.action(description=_("End selected now"), permissions=["change"])
    def end_now(self, request, queryset):
        done = queryset.update(ends_at=timezone.now())
        message = ngettext("%d episode ended.", "%d episodes ended.", done) % done
        self.message_user(request, message, messages.SUCCESS)
