"""Wagtail with its form builder (wagtail.contrib.forms) and its admin (which needs
documents and images), and a site app with form pages."""

WAGTAIL_APPS = [
    "wagtail.contrib.forms",
    "wagtail.sites",
    "wagtail.users",
    "wagtail.documents",
    "wagtail.images",
    "wagtail.admin",
    "wagtail",
    "modelcluster",
    "taggit",
    "tests.integrations.wagtail_site",
]
WAGTAIL_SITE_NAME = "captchala-django tests"
WAGTAILADMIN_BASE_URL = "http://testserver"
