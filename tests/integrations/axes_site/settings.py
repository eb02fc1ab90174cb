"""django-axes installed (its tables exist), but off unless a test turns it on: its
backend and middleware are added by tests/integrations/test_axes.py."""

AXES_APPS = ["axes"]
AXES_ENABLED = False
# Its middleware and backend are not in the suite's settings (test_axes adds them).
SILENCED_SYSTEM_CHECKS = ["axes.W002", "axes.W003"]
