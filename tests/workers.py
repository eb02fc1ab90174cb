"""Code run in worker processes by the concurrency tests (spawned, so importable)."""

import os


def setup_worker(db_settings: dict, sandbox_url: str, strategy: str | None) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
    import django

    django.setup()
    from django.conf import settings
    from django.db import connections

    connections["default"].settings_dict.update(db_settings)
    settings.CAPTCHALA_API_URL = sandbox_url
    settings.CAPTCHALA_WRITE_STRATEGY = strategy
    # These workers are one client refused hundreds of times on purpose: what they test
    # is the write under contention, not the budget of failed checks (tests/test_budgets).
    settings.CAPTCHALA_VALIDATE_BUDGET = 0


def write_many(worker: int, db_settings, sandbox_url, strategy, subjects, rounds, barrier, out):
    """Submit ``rounds`` checks to every scope; report the writes that committed per scope."""
    setup_worker(db_settings, sandbox_url, strategy)
    from django.db import connection

    from captchala_django.checkpoints import verify_and_record
    from tests.helpers import make_request, scope

    committed = {subject: 0 for subject in subjects}
    events = 0
    errors = []
    barrier.wait()
    for n in range(rounds):
        for subject in subjects:
            # Alternate a token refused locally with a unique forged one the provider refuses:
            # both always write (a refusal never takes the fast path).
            token = "" if (n + worker) % 2 else f"pt_forged_{worker}_{subject}_{n}_xxxxxxxx"
            try:
                outcome = verify_and_record(make_request(), token, scope(subject))
            except Exception as exc:  # noqa: BLE001 - reported to the parent
                errors.append(repr(exc))
                continue
            if outcome.persisted:
                committed[subject] += 1
                events += 1  # one record per committed check
    connection.close()
    out.put((committed, events, errors))


def guess_many(worker: int, db_settings, sandbox_url, guesses, barrier, out):
    """``guesses`` wrong passwords for alice at the step-up login, each from its own address;
    report how many reached the password check and how many were asked for the check."""
    setup_worker(db_settings, sandbox_url, None)
    from django.db import connection
    from django.test import Client
    from django.test.utils import setup_test_environment

    setup_test_environment()  # the test client's host, as in the parent

    checked = asked = 0
    errors = []
    barrier.wait()
    for n in range(guesses):
        try:
            page = (
                Client()
                .post(
                    "/login-step-up/",
                    {"username": "alice", "password": f"wrong-{worker}-{n}"},
                    REMOTE_ADDR=f"198.51.{worker}.{n + 1}",
                )
                .content.decode()
            )
        except Exception as exc:  # noqa: BLE001 - reported to the parent
            errors.append(repr(exc))
            continue
        checked += "Please enter a correct username and password" in page
        asked += "Please complete the check." in page
    connection.close()
    out.put((checked, asked, errors))
