"""Settings of the integrations suite: the test settings plus every optional package the
package integrates with, installed together as a site would (``nox`` runs it in the
cell that carries the ``integrations`` group: ``pytest tests/integrations
--ds=tests.integrations.settings``). Each integration keeps its own settings in a
module of its own, imported here."""

from tests.settings import *  # noqa: F403

from .allauth_site.settings import *  # noqa: F403
from .axes_site.settings import *  # noqa: F403
from .forms_stack.settings import *  # noqa: F403
from .wagtail_site.settings import *  # noqa: F403
from .wizards.settings import *  # noqa: F403

ROOT_URLCONF = "tests.integrations.urls"
INSTALLED_APPS = [
    *INSTALLED_APPS,  # noqa: F405
    *ALLAUTH_APPS,  # noqa: F405
    *FORMS_STACK_APPS,  # noqa: F405
    *WIZARD_APPS,  # noqa: F405
    *WAGTAIL_APPS,  # noqa: F405
    *AXES_APPS,  # noqa: F405
]
MIDDLEWARE = [*MIDDLEWARE, *ALLAUTH_MIDDLEWARE]  # noqa: F405
