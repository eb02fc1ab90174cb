"""The ``manage.py test`` examples of the documentation with the mixin ("Testing your site",
docs/guides/testing.md), as a site's own tests.py would have them: unittest classes that
pytest-django runs here as ``manage.py test`` would, against the suite's URLconf
(``/login/`` is Django's ``LoginView`` with ``CaptchaLaField(action="login")``, and
``/transfer/`` a view under ``@checkpoint_required``)."""

from django.contrib.auth import get_user_model
from django.test import TestCase

from captchala_django.testing import CaptchaLaSandboxMixin


class LoginTests(CaptchaLaSandboxMixin, TestCase):
    captchala_settings = {"CAPTCHALA_TIMEOUT": 1.0}  # optional

    @classmethod
    def setUpTestData(cls):
        get_user_model().objects.create_user("alice", password="s3cret-pass!")

    def login_data(self, **kwargs):
        fields = {"username": "alice", "password": "s3cret-pass!"}
        return self.captchala.form_data(fields, action="login", **kwargs)

    def test_login_passes_the_check(self):
        response = self.client.post("/login/", self.login_data())
        self.assertEqual(response.status_code, 302)

    def test_made_up_token_is_refused(self):
        response = self.client.post("/login/", self.login_data(token="pt_made-up-token"))
        self.assertIn("captcha", response.context["form"].errors)

    def test_captchala_down(self):
        self.captchala.set_fault("error")
        response = self.client.post("/login/", self.login_data())
        self.assertIn("captcha", response.context["form"].errors)

    def test_transfer_takes_the_token_header(self):
        response = self.client.post("/transfer/", **self.captchala.token_header("transfer"))
        self.assertEqual(response.status_code, 200)
        self.assertEqual(self.captchala.count("validate"), 1)
