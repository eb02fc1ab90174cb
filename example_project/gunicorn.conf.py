"""gunicorn's settings for the example project: gunicorn -c gunicorn.conf.py example_project.wsgi

With ``PROMETHEUS_MULTIPROC_DIR`` set for the server (an empty directory), every worker writes
its metrics there and ``/metrics/`` merges them; a worker that exits leaves the live gauges.
"""

from captchala_django.contrib.prometheus import child_exit  # noqa: F401

workers = 3
