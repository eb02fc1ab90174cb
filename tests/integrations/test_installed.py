"""The integrations suite runs with every integration installed, never a silent skip."""

from importlib.metadata import version


def test_each_integration_is_its_latest_installed_release():
    """Each optional package is importable here (the suite fails, not skips, without one)."""
    for dist in (
        "django-allauth",
        "django-formtools",
        "django-crispy-forms",
        "wagtail",
        "jinja2",
        "django-ninja",
    ):
        assert version(dist)
