"""Signals, sent after the checkpoint write commits.

Every signal is sent with ``sender=Checkpoint`` and the keyword arguments
``checkpoint`` (the :class:`~captchala_django.models.Checkpoint`, or ``None``
when it could not be written), ``outcome`` (the
:class:`~captchala_django.checkpoints.Outcome`) and ``request``.
"""

from django.dispatch import Signal

#: A check passed (a valid verdict, recorded).
checkpoint_passed = Signal()
#: A check failed: bad token, replay, provider or configuration failure (denied or not).
checkpoint_failed = Signal()
#: A request was let through without a recorded pass: the write failed after a valid
#: verdict, the provider was down under the ``allow`` policy, or a degraded verdict
#: was accepted.
checkpoint_degraded = Signal()
