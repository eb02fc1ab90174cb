"""The metrics under real gunicorn workers (prometheus-client's multiprocess mode): checks
served by several worker processes at once are all counted in one scrape, whichever worker
answers it."""

import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

pytest.importorskip("prometheus_client")
pytest.importorskip("gunicorn")
requests = pytest.importorskip("requests")

from captchala_django.conf import SANDBOX_APP_KEY, SANDBOX_APP_SECRET  # noqa: E402
from tests.helpers import free_port  # noqa: E402

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "example_project"
WORKERS = 3
PARALLEL = 6
#: Each check holds its worker this long in the provider call, so that requests sent at
#: once cannot all be served by one sync worker.
LATENCY_MS = 1000


def environment(tmp_path: Path, sandbox_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CAPTCHALA_", "DJANGO_"))}
    env.update(
        PYTHONPATH=os.pathsep.join([str(ROOT), str(EXAMPLE)]),
        DJANGO_SETTINGS_MODULE="example_project.settings",
        DJANGO_DEBUG="false",
        DJANGO_SECRET_KEY="metrics-test-secret-key-0123456789-not-for-production",
        DJANGO_ALLOWED_HOSTS="127.0.0.1",
        DATABASE_URL=f"sqlite:///{tmp_path / 'metrics.sqlite3'}",
        CAPTCHALA_SANDBOX="false",
        CAPTCHALA_APP_KEY=SANDBOX_APP_KEY,
        CAPTCHALA_APP_SECRET=SANDBOX_APP_SECRET,
        CAPTCHALA_API_URL=sandbox_url,
        CAPTCHALA_OFFLINE_API_URL=sandbox_url + "/api/validate",
        CAPTCHALA_LOADER_URL=sandbox_url + "/captchala-loader.js",
        CAPTCHALA_TIMEOUT="10",
        PROMETHEUS_MULTIPROC_DIR=str(tmp_path / "prometheus"),
        DEMO_METRICS="true",
    )
    return env


@pytest.fixture
def gunicorn(tmp_path, captchala_sandbox):
    env = environment(tmp_path, captchala_sandbox.url)
    Path(env["PROMETHEUS_MULTIPROC_DIR"]).mkdir()
    manage = [sys.executable, "manage.py"]
    subprocess.run([*manage, "migrate", "-v0"], cwd=EXAMPLE, env=env, check=True, timeout=120)
    config = EXAMPLE / "gunicorn.conf.py"  # the example project's, as documented
    port = free_port()
    argv = [sys.executable, "-m", "gunicorn", "example_project.wsgi", "-w", str(WORKERS)]
    argv += ["-b", f"127.0.0.1:{port}", "--config", str(config), "--timeout", "60"]
    log = open(tmp_path / "gunicorn.log", "w")  # noqa: SIM115 (closed below)
    proc = subprocess.Popen(argv, cwd=EXAMPLE, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_served(url + "/metrics/", proc)
        yield url, Path(env["PROMETHEUS_MULTIPROC_DIR"])
    finally:
        proc.terminate()
        proc.wait(30)
        log.close()


def _wait_until_served(url: str, proc: subprocess.Popen) -> None:
    """Bounded: 300 connection attempts, each failing at once until gunicorn listens."""
    for _ in range(300):
        assert proc.poll() is None, "gunicorn exited"
        try:
            requests.get(url, timeout=10)
            return
        except requests.ConnectionError:
            try:
                proc.wait(timeout=0.1)  # returns early only if gunicorn exited
            except subprocess.TimeoutExpired:
                pass
    raise AssertionError("gunicorn did not start")


def drf_decisions(text: str) -> float:
    total = 0.0
    for line in text.splitlines():
        if line.startswith("captchala_decisions_total{") and 'door="drf"' in line:
            total += float(line.rsplit(" ", 1)[1])
    return total


def test_checks_served_by_several_workers_are_counted_in_one_scrape(gunicorn, captchala_sandbox):
    url, store = gunicorn
    captchala_sandbox.set_fault("none", latency_ms=LATENCY_MS, endpoint="validate")

    def check(n: int) -> int:
        reply = requests.post(
            url + "/api/transfer/",
            json={"amount": 5},
            headers={"X-CaptchaLa-Token": f"pt_made-up-token-{n}"},
            timeout=60,
        )
        return reply.status_code

    with ThreadPoolExecutor(PARALLEL) as pool:
        answers = list(pool.map(check, range(PARALLEL)))
    assert answers == [403] * PARALLEL
    writers = {path.stem.rsplit("_", 1)[1] for path in store.glob("counter_*.db")}
    assert len(writers) >= 2, writers  # several workers counted
    for _ in range(WORKERS):  # whichever worker answers the scrape, it merges them all
        scraped = requests.get(url + "/metrics/", timeout=30).text
        assert drf_decisions(scraped) == PARALLEL
        assert 'captchala_phase_seconds_count{phase="provider"} 6.0' in scraped
