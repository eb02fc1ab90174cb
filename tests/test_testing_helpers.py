"""captchala_django.testing (for ``manage.py test``) and the pytest plugin's own manners.

The TestCase classes here are what a site's unittest suite would write; pytest-django
runs them as it runs any Django TestCase.
"""

import json
import os
import socket
import subprocess
import sys
import textwrap
import unittest
import urllib.request
from importlib.metadata import entry_points
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.test import SimpleTestCase, TestCase, override_settings

from captchala_django.client import CaptchaLaClient
from captchala_django.conf import SANDBOX_APP_KEY
from captchala_django.sandbox.server import LiveSandbox
from captchala_django.testing import CaptchaLaSandboxMixin, SandboxFixture, use_sandbox
from captchala_django.tokens import TOKEN_HEADER
from tests.helpers import FORGED

PLUGIN = "captchala_django.pytest_plugin"
REPO = Path(__file__).resolve().parent.parent


def refused(port: int) -> bool:
    """Whether a TCP connection to 127.0.0.1:``port`` is refused (nothing listens)."""
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    except ConnectionRefusedError:
        return True
    return False


def without_django_env() -> dict[str, str]:
    """This process's environment, less the Django settings pytest-django put there."""
    return {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}


# ----------------------------------------------------------------- the mixin, in a TestCase


class MixinThroughTheTestClientTests(CaptchaLaSandboxMixin, TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.user = get_user_model().objects.create_user("alice", "a@example.com", "s3cret-pass!")
        # The sandbox already runs here, and the settings point at it.
        cls.url_in_set_up_test_data = settings.CAPTCHALA_API_URL

    def login_data(self, **kwargs):
        return self.captchala.form_data(
            {"username": "alice", "password": "s3cret-pass!"}, action="login", **kwargs
        )

    def test_minted_token_passes_the_login_form(self):
        response = self.client.post("/login/", self.login_data())
        self.assertEqual(response.status_code, 302)
        self.assertEqual(self.client.session["_auth_user_id"], str(self.user.pk))
        self.assertEqual(self.captchala.count("validate"), 1)

    def test_made_up_token_is_refused_by_the_login_form(self):
        response = self.client.post("/login/", self.login_data(token=FORGED))
        self.assertEqual(response.status_code, 200)
        self.assertEqual(list(response.context["form"].errors), ["captcha"])
        self.assertNotIn("_auth_user_id", self.client.session)

    def test_minted_token_passes_a_guarded_view(self):
        data = self.captchala.form_data({"amount": "5"}, action="transfer")
        response = self.client.post("/decorated/", data)
        self.assertEqual(response.status_code, 200)
        self.assertEqual(response.json()["amount"], "5")

    def test_token_header_passes_a_guarded_view(self):
        response = self.client.post("/decorated/", **self.captchala.token_header("transfer"))
        self.assertEqual(response.status_code, 200)
        self.assertTrue(response.json()["ok"])

    def test_made_up_token_and_wrong_action_are_refused_by_a_guarded_view(self):
        forged = self.client.post("/decorated/", self.captchala.form_data(token=FORGED))
        other_action = self.client.post("/decorated/", self.captchala.form_data(action="login"))
        self.assertEqual((forged.status_code, other_action.status_code), (403, 403))

    def test_form_data_uses_the_configured_token_field(self):
        with self.settings(CAPTCHALA_TOKEN_FIELD="cl_token"):
            data = self.captchala.form_data({"a": "1"})
        self.assertEqual(set(data), {"a", "cl_token"})
        self.assertTrue(data["cl_token"].startswith("pt_"))
        self.assertEqual(set(self.captchala.token_header(token="t")), {TOKEN_HEADER})

    def test_settings_point_at_the_class_sandbox(self):
        self.assertEqual(settings.CAPTCHALA_API_URL, self.captchala.url)
        self.assertEqual(settings.CAPTCHALA_OFFLINE_API_URL, self.captchala.url + "/api/validate")
        self.assertEqual(settings.CAPTCHALA_APP_KEY, SANDBOX_APP_KEY)
        self.assertEqual(self.url_in_set_up_test_data, self.captchala.url)

    def test_fail_makes_the_provider_down(self):
        self.captchala.set_fault("error")
        response = self.client.post("/login/", self.login_data())
        self.assertEqual(response.status_code, 200)  # the form says "try again"
        self.assertNotIn("_auth_user_id", self.client.session)
        self.captchala.clear_faults()
        self.assertEqual(self.client.post("/login/", self.login_data()).status_code, 302)


# ----------------------------------------------------------------- the mixin's lifecycle


class MixinLifecycleTests(SimpleTestCase):
    """Inner test classes run by unittest itself, as ``manage.py test`` would run them."""

    def run_case(self, case):
        result = unittest.TestResult()
        unittest.defaultTestLoader.loadTestsFromTestCase(case).run(result)
        return result

    def test_sandbox_is_reset_before_each_test_and_stopped_after_the_class(self):
        seen = {}

        @override_settings(CAPTCHALA_TIMEOUT=1.5, CAPTCHALA_LOADER_URL="http://loader.test/x.js")
        class Inner(CaptchaLaSandboxMixin, SimpleTestCase):
            captchala_settings = {"CAPTCHALA_SEND_CLIENT_IP": False}

            def test_a_dirties_the_sandbox(self):
                token = self.captchala.mint_pass_token()
                self.assertTrue(CaptchaLaClient().validate(token, action="login").valid)
                self.captchala.set_fault("drop")
                seen["port"] = self.captchala.live.port

            def test_b_starts_clean_with_every_override_active(self):
                self.assertEqual(self.captchala.count("validate"), 0)
                self.assertEqual(self.captchala.live.faults.mode, "none")
                self.assertEqual(settings.CAPTCHALA_API_URL, self.captchala.url)
                self.assertEqual(settings.CAPTCHALA_TIMEOUT, 1.5)  # the class's own
                self.assertEqual(settings.CAPTCHALA_LOADER_URL, "http://loader.test/x.js")
                self.assertIs(settings.CAPTCHALA_SEND_CLIENT_IP, False)
                seen["b ran"] = True

        before = settings.CAPTCHALA_API_URL
        result = self.run_case(Inner)
        self.assertEqual([text for _, text in result.errors + result.failures], [])
        self.assertEqual((result.testsRun, seen.get("b ran")), (2, True))
        self.assertEqual(settings.CAPTCHALA_API_URL, before)
        self.assertFalse(hasattr(settings, "CAPTCHALA_SEND_CLIENT_IP"))
        self.assertTrue(refused(seen["port"]))

    def test_sandbox_is_stopped_when_the_class_set_up_fails(self):
        seen = {}

        class Exploding(SimpleTestCase):
            @classmethod
            def setUpClass(cls):
                seen["port"] = cls.captchala.live.port  # started before Django's set-up
                raise RuntimeError("set-up broke")

        class Broken(CaptchaLaSandboxMixin, Exploding):
            def test_never_runs(self):
                raise AssertionError("unreachable")

        before = settings.CAPTCHALA_API_URL
        result = self.run_case(Broken)
        self.assertEqual(result.testsRun, 0)
        self.assertIn("set-up broke", result.errors[0][1])
        self.assertEqual(settings.CAPTCHALA_API_URL, before)
        self.assertTrue(refused(seen["port"]))


# ----------------------------------------------------------------- the context manager


class ContextManagerTests(SimpleTestCase):
    def test_token_is_accepted_inside_and_settings_restored_after(self):
        before = settings.CAPTCHALA_API_URL, settings.CAPTCHALA_TIMEOUT
        with use_sandbox(CAPTCHALA_TIMEOUT=0.75) as sandbox:
            self.assertEqual(settings.CAPTCHALA_API_URL, sandbox.url)
            self.assertEqual(settings.CAPTCHALA_TIMEOUT, 0.75)
            token = sandbox.mint_pass_token("checkout")
            result = CaptchaLaClient().validate(token, action="checkout")
            self.assertTrue(result.valid)
            self.assertEqual(sandbox.calls_for(token), 1)
            port = sandbox.live.port
        self.assertEqual((settings.CAPTCHALA_API_URL, settings.CAPTCHALA_TIMEOUT), before)
        self.assertTrue(refused(port))

    def test_made_up_token_is_refused(self):
        with use_sandbox():
            result = CaptchaLaClient().validate(FORGED, action="login")
        self.assertFalse(result.valid)
        self.assertEqual(result.code, "invalid_token")

    def test_settings_restored_and_server_stopped_when_the_block_raises(self):
        before = settings.CAPTCHALA_API_URL
        fixture = SandboxFixture()
        with self.assertRaises(KeyError), fixture:
            port = fixture.live.port
            raise KeyError("the test's own failure")
        self.assertEqual(settings.CAPTCHALA_API_URL, before)
        self.assertTrue(refused(port))
        with self.assertRaises(RuntimeError):
            fixture.live  # noqa: B018 - not running any more

    def test_a_given_server_is_reused_and_left_running(self):
        with LiveSandbox() as live:
            with use_sandbox(live) as sandbox:
                self.assertIs(sandbox.live, live)
                self.assertEqual(settings.CAPTCHALA_API_URL, live.url)
            with urllib.request.urlopen(live.url + "/sandbox/stats", timeout=5) as reply:
                self.assertEqual(reply.status, 200)
        self.assertTrue(refused(live.port))

    def test_a_fixture_cannot_be_started_twice(self):
        with use_sandbox() as sandbox, self.assertRaises(RuntimeError):
            sandbox.start()


# ----------------------------------------------------------------- the pytest plugin


#: What the plugin must not load until a fixture is used.
HEAVY = (
    "django.test",
    "django.db",
    "django.http",
    "captchala_django.sandbox.server",
    "captchala_django.testing",
)


def test_plugin_imports_without_django_settings_and_loads_nothing_itself():
    script = textwrap.dedent(f"""
        import json, sys
        import pytest  # what the plugin needs, loaded by pytest anyway
        before = set(sys.modules)
        import {PLUGIN}
        added = sorted(set(sys.modules) - before)
        heavy = [m for m in {HEAVY!r} if m in sys.modules]
        from django.conf import settings
        print(json.dumps({{
            "added": added,
            "configured": settings.configured,
            "heavy": heavy,
        }}))
    """)
    out = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO,
        env=without_django_env(),
    )
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    # Its parent package is lazy: loading the plugin loads nothing else.
    assert report == {
        "added": ["captchala_django", PLUGIN],
        "configured": False,
        "heavy": [],
    }


def run_pytest_elsewhere(tmp_path, *args):
    """pytest in ``tmp_path``, a project without Django settings, with the plugin loaded."""
    registered = any(ep.value == PLUGIN for ep in entry_points(group="pytest11"))
    plugin = [] if registered else ["-p", PLUGIN]
    env = without_django_env()
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *plugin, *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        env=env,
    )


def test_pytest_fixtures_lists_the_plugin_fixtures_with_their_docstrings(tmp_path):
    out = run_pytest_elsewhere(tmp_path, "--fixtures")
    assert out.returncode == 0, out.stdout + out.stderr
    text = out.stdout
    assert f"fixtures defined from {PLUGIN}" in text
    assert "captchala_sandbox_server [session scope]" in text
    assert (
        "A CaptchaLa sandbox (LiveSandbox) on a free loopback port, for the whole session." in text
    )
    assert "The session's sandbox, reset for this test, with the CAPTCHALA_* settings" in text


def test_plugin_does_not_break_a_project_without_django_settings(tmp_path):
    (tmp_path / "test_plain.py").write_text(
        textwrap.dedent("""
            def test_plain():
                assert 1 + 1 == 2

            def test_fixture_serves_without_django_settings(captchala_sandbox):
                assert captchala_sandbox.mint_pass_token("login").startswith("pt_")
        """)
    )
    out = run_pytest_elsewhere(tmp_path, "-q")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "2 passed" in out.stdout


VOCABULARY = (
    "mint_pass_token",
    "set_fault",
    "clear_faults",
    "reset",
    "count",
    "calls_for",
    "form_data",
    "token_header",
    "url",
)


def test_one_vocabulary_for_both_test_runners(captchala_sandbox):
    """The pytest fixture and manage.py test's helper answer to the same names; the names
    of 0.2 (``mint``, ``fail``) are kept as aliases for a release."""
    from captchala_django.testing import SandboxFixture

    for name in VOCABULARY:
        assert hasattr(captchala_sandbox, name), name
        assert hasattr(SandboxFixture, name), name
    assert SandboxFixture.mint is SandboxFixture.mint_pass_token
    assert SandboxFixture.fail is SandboxFixture.set_fault
    data = captchala_sandbox.form_data({"a": "1"})
    assert data["a"] == "1" and data["captchala_token"].startswith("pt_")
    assert captchala_sandbox.token_header()["HTTP_X_CAPTCHALA_TOKEN"].startswith("pt_")


def test_the_pytest_fixture_is_the_same_object_as_the_mixins(captchala_sandbox):
    """One vocabulary, one set of defaults, in both test runners."""
    from captchala_django.testing import SandboxFixture

    assert isinstance(captchala_sandbox, SandboxFixture)
    assert captchala_sandbox.mint == captchala_sandbox.mint_pass_token
    assert captchala_sandbox.set_fault().mode == "error"  # the default fault is an outage
    captchala_sandbox.clear_faults()
    assert captchala_sandbox.loader_url.endswith("/captchala-loader.js")  # the server's
