"""The README's Quickstart, pasted as is into a fresh ``django-admin startproject``: the
blocks marked ``<!-- quickstart: FILE -->`` are appended to (or written as) that file of the
project, then ``migrate``, ``check``, ``check --deploy`` and an import of the new modules run
as a newcomer would, with no keys set."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BLOCK = re.compile(r"<!-- quickstart: (\S+) -->\n```\w*\n(.*?)```", re.S)


def blocks() -> list[tuple[str, str]]:
    return BLOCK.findall((ROOT / "README.md").read_text())


def run(project: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CAPTCHALA_", "DJANGO_"))}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    where = tmp_path_factory.mktemp("fresh")
    subprocess.run(
        [sys.executable, "-m", "django", "startproject", "mysite", str(where)],
        check=True,
        timeout=60,
    )
    for name, code in blocks():
        path = where / "mysite" / name
        existing = path.read_text() if path.exists() else ""
        path.write_text(existing + "\n" + code)
    return where


def test_the_readme_marks_the_quickstarts_files():
    assert [name for name, _ in blocks()] == ["settings.py", "urls.py", "forms.py", "views.py"]


def test_migrate_and_check_pass_with_no_keys_set(project):
    migrated = run(project, "migrate", "-v0")
    assert migrated.returncode == 0, migrated.stderr
    checked = run(project, "check")
    assert checked.returncode == 0, checked.stderr
    # One warning per missing key, and nothing else of the package's.
    found = sorted(set(re.findall(r"captchala_django\.\w\d+", checked.stderr + checked.stdout)))
    assert found == ["captchala_django.W005", "captchala_django.W006"]


def test_check_deploy_names_each_missing_key_once(project):
    deploy = run(project, "check", "--deploy", "--tag", "captchala_django")
    assert deploy.returncode != 0
    found = re.findall(r"captchala_django\.\w\d+", deploy.stderr + deploy.stdout)
    assert sorted(found) == ["captchala_django.E001", "captchala_django.E002"]


def test_the_forms_and_views_import_and_the_urls_resolve(project):
    code = (
        "import mysite.forms, mysite.views; from django.urls import reverse; "
        "print(reverse('captchala:server-token'))"
    )
    shell = run(project, "shell", "-c", code)
    assert shell.returncode == 0, shell.stderr
    assert shell.stdout.strip().splitlines()[-1] == "/captchala/server-token/"


OFFLINE = re.compile(r"<!-- quickstart-offline: (\S+) -->\n```\w*\n(.*?)```", re.S)


@pytest.fixture(scope="module")
def offline_project(tmp_path_factory) -> tuple[Path, int]:
    """The Quickstart, then its offline blocks; the only edit is the port runserver got."""
    from tests.helpers import free_port

    where = tmp_path_factory.mktemp("offline")
    subprocess.run(
        [sys.executable, "-m", "django", "startproject", "mysite", str(where)],
        check=True,
        timeout=60,
    )
    port = free_port()
    for name, code in [*blocks(), *OFFLINE.findall((ROOT / "README.md").read_text())]:
        path = where / "mysite" / name
        existing = path.read_text() if path.exists() else ""
        path.write_text(existing + "\n" + code.replace("127.0.0.1:8000", f"127.0.0.1:{port}"))
    return where, port


def test_the_offline_blocks_quiet_every_check(offline_project):
    project, _ = offline_project
    assert [name for name, _ in OFFLINE.findall((ROOT / "README.md").read_text())] == [
        "settings.py",
        "urls.py",
    ]
    checked = run(project, "check")
    assert checked.returncode == 0, checked.stderr
    assert "captchala_django" not in checked.stderr + checked.stdout


def test_offline_a_token_solved_at_the_sandbox_is_valid(offline_project):
    """runserver serves the sandbox; the site's client validates a token minted there."""
    import json
    import urllib.request

    from tests.demo_server import runserver

    project, port = offline_project
    assert run(project, "migrate", "-v0").returncode == 0
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CAPTCHALA_", "DJANGO_"))}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    with runserver(project, env, port):
        mint = urllib.request.Request(
            f"http://127.0.0.1:{port}/captchala-sandbox/sandbox/mint",
            data=json.dumps({"action": "login"}).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(mint, timeout=30) as reply:  # noqa: S310 (loopback)
            token = json.load(reply)["data"]["token"]
        code = (
            "from captchala_django.client import CaptchaLaClient; "
            f"print(CaptchaLaClient().validate({token!r}, None, action='login').valid)"
        )
        shell = run(project, "shell", "-c", code)
    assert shell.returncode == 0, shell.stderr
    assert shell.stdout.strip().splitlines()[-1] == "True"
