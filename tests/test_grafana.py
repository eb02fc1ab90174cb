"""The Grafana dashboard in the repository queries only metrics the package defines (with
the labels they have), so that it cannot drift from ``captchala_django.contrib.prometheus``."""

import json
import re
from pathlib import Path

DASHBOARD = Path(__file__).resolve().parent.parent / "grafana" / "captchala-django.json"
PROMETHEUS = Path(__file__).resolve().parent.parent / "captchala_django/contrib/prometheus.py"


def defined() -> dict[str, set[str]]:
    """Metric names as exposed (``_total``, ``_bucket``...) and their labels, read from the
    module's source (prometheus-client need not be installed for this test)."""
    source = PROMETHEUS.read_text()
    found: dict[str, set[str]] = {}
    pattern = r'(Counter|Histogram|Gauge)\(\s*"(\w+)",\s*"[^"]*",\s*(\[[^\]]*\])?'
    for kind, name, labels in re.findall(pattern, source):
        names = set(re.findall(r'"(\w+)"', labels or ""))
        exposed = {
            "Counter": [f"{name}_total"],
            "Histogram": [f"{name}_bucket", f"{name}_count", f"{name}_sum"],
            "Gauge": [name],
        }[kind]
        for each in exposed:
            found[each] = names | ({"le"} if each.endswith("_bucket") else set())
    return found


def test_every_query_names_a_defined_metric_and_its_labels():
    metrics = defined()
    assert "captchala_decisions_total" in metrics and "captchala_phase_seconds_bucket" in metrics
    dashboard = json.loads(DASHBOARD.read_text())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    assert len(exprs) >= 8
    for expr in exprs:
        used = set(re.findall(r"\b(captchala_\w+)", expr))
        assert used and used <= set(metrics), expr
        name = next(iter(used))
        labels = set(re.findall(r"(?:by \(|\{|, )(\w+)(?:[!=]|\)|,)", expr)) - {"le"}
        assert labels <= metrics[name], (expr, labels - metrics[name])


def test_the_dashboard_imports_with_a_datasource_input():
    dashboard = json.loads(DASHBOARD.read_text())
    assert dashboard["__inputs"][0]["pluginId"] == "prometheus"
    uids = {p["datasource"]["uid"] for p in dashboard["panels"]}
    assert uids == {"${DS_PROMETHEUS}"}
