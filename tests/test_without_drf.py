"""The package works without Django REST framework installed."""

import subprocess
import sys
import textwrap


def test_package_imports_without_drf_and_drf_module_says_what_to_install():
    script = textwrap.dedent("""
        import sys
        sys.modules["rest_framework"] = None  # as if it were not installed
        import os
        os.environ["DJANGO_SETTINGS_MODULE"] = "tests.settings"
        import django
        django.setup()
        import importlib, pkgutil
        import captchala_django
        for info in pkgutil.walk_packages(captchala_django.__path__, "captchala_django."):
            if info.name in ("captchala_django.drf", "captchala_django.pytest_plugin"):
                continue
            if info.name.startswith("captchala_django.contrib."):
                continue  # each needs its integration (Wagtail needs DRF itself)
            importlib.import_module(info.name)
        try:
            import captchala_django.drf
        except ImportError as exc:
            print("DRF-MESSAGE:", exc)
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "pip install 'captchala-django[drf]'" in out.stdout
