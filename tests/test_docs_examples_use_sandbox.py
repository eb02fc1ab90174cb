"""The ``manage.py test`` example of the documentation with ``use_sandbox()`` ("Testing your
site", docs/guides/testing.md), as a site's own tests.py would have it: pytest-django runs it
here as ``manage.py test`` would, against the suite's URLconf (``/transfer/`` is a view under
``@checkpoint_required``)."""

from django.test import Client, TestCase

from captchala_django.testing import use_sandbox


class TransferTests(TestCase):
    def test_transfer_passes_the_check(self):
        with use_sandbox(CAPTCHALA_TIMEOUT=1.0) as sandbox:
            data = sandbox.form_data({"amount": "5"}, action="transfer")
            response = Client().post("/transfer/", data)
        self.assertEqual(response.status_code, 200)
