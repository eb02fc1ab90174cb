"""Sphinx configuration of the captchala-django documentation (``make docs``)."""

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(Path(__file__).parent / "_ext")]
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")

import django  # noqa: E402

django.setup()

project = "captchala-django"
author = "The captchala-django authors"
extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.viewcode",
    "captchala_reference",
]
myst_enable_extensions = ["colon_fence", "deflist"]
source_suffix = {".md": "markdown"}
exclude_patterns = ["_build"]
html_theme = "furo"
html_title = "captchala-django"
autodoc_member_order = "bysource"
autodoc_typehints = "description"
nitpicky = False
copyright = "the captchala-django authors"
# Options such as --dry-run stay two hyphens, never an en dash.
smartquotes = False
