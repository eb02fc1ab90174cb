"""Wagtail with its form builder (wagtail.contrib.forms), and a site app with a form page."""

WAGTAIL_APPS = [
    "wagtail.contrib.forms",
    "wagtail.sites",
    "wagtail.users",
    "wagtail",
    "modelcluster",
    "taggit",
    "tests.integrations.wagtail_site",
]
WAGTAIL_SITE_NAME = "captchala-django tests"
WAGTAILADMIN_BASE_URL = "http://testserver"
