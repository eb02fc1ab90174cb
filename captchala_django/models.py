"""Checkpoints, their event trail, and the pass-token ledger.

Only :mod:`captchala_django.checkpoints` writes these tables.
"""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Status(models.TextChoices):
    PENDING = "pending", _("pending")
    PASSED = "passed", _("passed")
    FAILED = "failed", _("failed")


class FailureClass(models.TextChoices):
    VALIDATION = "validation", _("validation (bad token)")
    REPLAY = "replay", _("replay (token used elsewhere)")
    TIMEOUT = "timeout", _("provider timeout")
    PROVIDER = "provider", _("provider failure")
    PERSISTENCE = "persistence", _("persistence (database)")
    CONFIGURATION = "configuration", _("configuration")
    RATE_LIMITED = "rate_limited", _("rate limited (too many failed checks)")


class Checkpoint(models.Model):
    """The current bot-check state of one scope (kind + subject + route)."""

    scope_key = models.CharField(_("scope key"), max_length=64, editable=False)
    scope_kind = models.CharField(_("scope kind"), max_length=16)
    route = models.CharField(_("route"), max_length=200, default="", blank=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("user"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    status = models.CharField(
        _("status"), max_length=8, choices=Status.choices, default=Status.PENDING
    )
    version = models.PositiveIntegerField(_("version"), default=1)
    token_digest = models.CharField(_("token digest"), max_length=64, default="", blank=True)
    failure_class = models.CharField(
        _("failure class"), max_length=16, choices=FailureClass.choices, default="", blank=True
    )
    failure_detail = models.CharField(_("failure detail"), max_length=200, default="", blank=True)
    client_ip = models.GenericIPAddressField(_("client IP"), null=True, blank=True)
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated"), default=timezone.now)
    passed_at = models.DateTimeField(_("passed"), null=True, blank=True)
    expires_at = models.DateTimeField(_("expires"), null=True, blank=True, db_index=True)
    request_id = models.CharField(_("request id"), max_length=64, default="", blank=True)

    class Meta:
        verbose_name = _("checkpoint")
        verbose_name_plural = _("checkpoints")
        constraints = [
            models.UniqueConstraint(fields=["scope_key"], name="captchala_checkpoint_scope_uniq")
        ]
        indexes = [models.Index(fields=["status", "updated_at"], name="captchala_cp_status_upd")]

    def __str__(self) -> str:
        return f"{self.scope_kind}:{self.route or '-'} {self.status} v{self.version}"

    def is_passed(self, now: datetime | None = None) -> bool:
        """Passed and not yet expired."""
        now = now or timezone.now()
        return (
            self.status == Status.PASSED and self.expires_at is not None and self.expires_at > now
        )


class EventKind(models.TextChoices):
    #: One check, from the token received to the decision: one row.
    CHECK = "check", _("check")
    #: A staff user let through without a check (``CAPTCHALA_SKIP_FOR_STAFF``).
    STAFF_SKIP = "staff_skip", _("staff skip")
    RESET = "reset", _("reset")
    EXPIRED = "expired", _("expired by hand")
    # Trails written before one record per check: still shown, never written.
    TOKEN_RECEIVED = "token_received", _("token received")
    VALIDATE_SENT = "validate_sent", _("validate sent")
    VALIDATE_RESPONSE = "validate_response", _("validate response")
    DECISION = "decision", _("decision")
    PERSIST_FAILED = "persist_failed", _("persist failed")
    IP_MISMATCH = "ip_mismatch", _("IP mismatch")


#: The kinds whose row holds a decision (a check, a staff skip, an old trail's decision).
DECISION_KINDS = (EventKind.CHECK, EventKind.STAFF_SKIP, EventKind.DECISION)


class CheckpointEvent(models.Model):
    """One append-only entry of a checkpoint's trail: a check (received, sent, the reply,
    the decision), or a state change (reset, expiry, staff skip)."""

    checkpoint = models.ForeignKey(
        Checkpoint, verbose_name=_("checkpoint"), on_delete=models.CASCADE, related_name="events"
    )
    kind = models.CharField(_("kind"), max_length=20, choices=EventKind.choices)
    #: When the token was received (a check) or the change was made.
    created_at = models.DateTimeField(_("at"), default=timezone.now, db_index=True)
    version = models.PositiveIntegerField(_("checkpoint version"), default=0)
    decision = models.CharField(_("decision"), max_length=8, default="", blank=True)
    failure_class = models.CharField(_("failure class"), max_length=16, default="", blank=True)
    #: The outcome code (:class:`captchala_django.codes.Code`, or the provider's own).
    code = models.CharField(_("code"), max_length=64, default="", blank=True)
    #: A check's token hint (its kind prefix and length), or why a change was made.
    detail = models.CharField(_("detail"), max_length=200, default="", blank=True)
    #: When the provider was asked (none: it was not).
    sent_at = models.DateTimeField(_("sent"), null=True, blank=True)
    status_code = models.IntegerField(_("provider status"), null=True, blank=True)
    latency_ms = models.IntegerField(_("latency (ms)"), null=True, blank=True)
    risk_score = models.PositiveSmallIntegerField(_("risk score"), null=True, blank=True)
    platform = models.CharField(_("platform"), max_length=32, default="", blank=True)
    #: The address the provider saw the check solved from, when it was not this request's.
    provider_ip = models.GenericIPAddressField(_("provider saw"), null=True, blank=True)
    request_id = models.CharField(_("request id"), max_length=64, default="", blank=True)
    #: The CaptchaLa app whose keys judged the check (keys per site: ``CAPTCHALA_KEYS_RESOLVER``).
    app_key = models.CharField(_("app"), max_length=64, default="", blank=True)

    class Meta:
        verbose_name = _("checkpoint event")
        verbose_name_plural = _("checkpoint events")
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.kind} {self.decision or ''} {self.code}".strip()


class ClaimState(models.TextChoices):
    PENDING = "pending", _("in flight")
    DONE = "done", _("done")


class PassToken(models.Model):
    """The replay ledger: one row per pass token ever seen (by digest)."""

    token_digest = models.CharField(_("token digest"), max_length=64)
    scope_key = models.CharField(_("claimed for scope"), max_length=64)
    state = models.CharField(
        _("state"), max_length=8, choices=ClaimState.choices, default=ClaimState.PENDING
    )
    allowed = models.BooleanField(_("allowed"), null=True)
    degraded = models.BooleanField(_("degraded"), default=False)
    failure_class = models.CharField(_("failure class"), max_length=16, default="", blank=True)
    code = models.CharField(_("provider code"), max_length=64, default="", blank=True)
    created_at = models.DateTimeField(_("claimed"), default=timezone.now)
    expires_at = models.DateTimeField(_("forget after"), db_index=True)
    #: A passed token kept for one later use by a form step (a wizard's revalidation):
    #: whose (an HMAC), ``redeemed`` once used; the writers' INSERTs leave it to the default.
    held_for = models.CharField(
        _("held for"), max_length=64, default="", db_default="", blank=True, editable=False
    )

    class Meta:
        verbose_name = _("pass token")
        verbose_name_plural = _("pass tokens")
        constraints = [
            models.UniqueConstraint(fields=["token_digest"], name="captchala_passtoken_digest_uniq")
        ]

    def __str__(self) -> str:
        return f"{self.token_digest[:12]}… {self.state}"


class CountedBy(models.TextChoices):
    USERNAME = "username", _("username")
    ADDRESS = "address", _("address")
    SESSION = "session", _("session")


class AttemptCount(models.Model):
    """Recent attempts of one username, client address (IPv6 by /64) or session, within a
    window, by a keyed hash of it (never in clear): past a threshold a front door with
    ``step_up`` asks for the check (:mod:`captchala_django.stepup`)."""

    kind = models.CharField(_("counted by"), max_length=8, choices=CountedBy.choices)
    key_digest = models.CharField(_("key (keyed hash)"), max_length=64)
    count = models.PositiveIntegerField(_("attempts"), default=0)
    window_ends = models.DateTimeField(_("window ends"), db_index=True)

    class Meta:
        verbose_name = _("attempt count")
        verbose_name_plural = _("attempt counts")
        constraints = [
            models.UniqueConstraint(fields=["kind", "key_digest"], name="captchala_attempts_uniq")
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.key_digest[:12]}… {self.count}"


class UnderAttack(models.Model):
    """A route (``*``: every route) on which every front door with ``step_up`` asks for the
    check, until ``ends_at``: switched on by hand in the admin, or by the verdict when
    ``CAPTCHALA_UNDER_ATTACK["auto"]`` is on (:mod:`captchala_django.under_attack`)."""

    route = models.CharField(_("route"), max_length=200)
    started_at = models.DateTimeField(_("started"), default=timezone.now)
    ends_at = models.DateTimeField(_("ends"), db_index=True)
    by_hand = models.BooleanField(_("by hand"), default=False)
    reason = models.CharField(_("reason"), max_length=300, default="", blank=True)

    class Meta:
        verbose_name = _("under attack")
        verbose_name_plural = _("under attack")
        constraints = [
            models.UniqueConstraint(fields=["route"], name="captchala_underattack_route_uniq")
        ]

    def __str__(self) -> str:
        return f"{self.route} until {self.ends_at:%Y-%m-%d %H:%M}"
