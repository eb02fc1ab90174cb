"""``python -m bench.soak [--duration SECONDS]``: a production-shaped soak.

Run it as ``scripts/with-postgres .venv/bin/python -m bench.soak``. It starts
PgBouncer (transaction pooling) in front of that PostgreSQL, Redis, the standalone
sandbox, and the example project under gunicorn (4 sync workers) and uvicorn; drives
users and bots at them from separate client processes over real HTTP while faults
are injected on a schedule; then checks the invariants and prints the figures. The
last line is the summary; the exit status is 1 when an invariant failed, 2 when the
soak could not run. Every process it starts is stopped by its pid, even on failure; a
client process still running 30 s after the load's end is killed and reported, with its
threads' stacks.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import shutil
import signal
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import psycopg
import requests

from . import bots, clients, faults, invariants, metrics, mutants, processes, services

TIMEOUT = 2.0
CLAIM_MARGIN = 2.0
CLAIM_ABANDONED_AFTER = 5.0
BUDGET = 10
PROBE_POSTS = 100


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__)
    parser.add_argument("--duration", type=float, default=180.0, help="seconds of load")
    parser.add_argument("--seed", type=int, default=1, help="the clients' random seed")
    parser.add_argument("--keep", action="store_true", help="keep the logs directory")
    parser.add_argument(
        "--mutant",
        choices=sorted(mutants.MUTANTS),
        help="serve a deliberately broken copy of the package (the soak must fail)",
    )
    parser.add_argument(
        "--app-pythonpath",
        metavar="DIR",
        default="",
        help="put DIR first on the app servers' PYTHONPATH (say, a patched copy of the package)",
    )
    args = parser.parse_args(argv)
    if args.duration < 20:
        parser.error("--duration must be at least 20 seconds (every fault needs its window)")
    return args


def _say(text: str) -> None:
    print(text, flush=True)


def _rows(db_url: str) -> dict[str, int]:
    tables = {
        "sessions": invariants.SESSIONS,
        "checkpoints": invariants.CP,
        "events": invariants.EV,
        "ledger": invariants.PT,
    }
    with psycopg.connect(db_url, autocommit=True) as conn:
        return {
            name: conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            for name, table in tables.items()
        }


def _sandbox(svc: services.Services, path: str) -> dict:
    reply = requests.get(svc.url("sandbox") + path, timeout=10)
    reply.raise_for_status()
    return reply.json()["data"]


def _start(svc: services.Services, args: argparse.Namespace, workdir: Path) -> str:
    """Start every service (serving the mutant, if asked); the run's direct database URL."""
    began = time.monotonic()
    if args.mutant:
        path, what = mutants.build(args.mutant, workdir, base=args.app_pythonpath)
        svc.app_pythonpath = str(path)
        _say(f"soak: MUTANT {args.mutant}: {what}")
    direct = svc.create_database()
    svc.start_redis()
    svc.start_pgbouncer()
    svc.start_sandbox()
    svc.manage("migrate", "--noinput", database_url=direct)
    app_db = svc.app_database_url()
    svc.start_gunicorn(app_db)
    svc.start_uvicorn(app_db)
    setup = time.monotonic() - began
    lock_timeout = svc.show_through_pgbouncer("lock_timeout")
    _say(
        f"soak: setup {setup:.1f} s: PgBouncer :{svc.ports['pgbouncer']} (transaction) -> "
        f"PostgreSQL :{svc.ports['postgres']}, Redis :{svc.ports['redis']}, sandbox "
        f":{svc.ports['sandbox']}, gunicorn :{svc.ports['gunicorn']} "
        f"({services.GUNICORN_WORKERS} sync workers), uvicorn :{svc.ports['uvicorn']}; "
        f"lock_timeout through PgBouncer {lock_timeout}"
    )
    return direct


@dataclass
class Load:
    """What the load left: its faults, its clients' problems, when it ran."""

    schedule: faults.FaultSchedule
    problems: list[str]
    start_at: float
    ended: float


def _drive(svc: services.Services, args: argparse.Namespace, workdir: Path) -> Load:
    """The client processes and the fault schedule, until the load is over."""
    logdir = workdir / "logs"
    logdir.mkdir()
    start_at = time.time() + 0.5
    stop_at = start_at + args.duration
    schedule = faults.FaultSchedule(
        svc,
        start_at=start_at,
        duration=args.duration,
        claim_abandoned_after=CLAIM_ABANDONED_AFTER,
        log_path=str(workdir / "faults.jsonl"),
        victim_log_path=str(logdir / "victim.jsonl"),
    )
    ctx = multiprocessing.get_context("spawn")
    processes = clients.start_clients(
        ctx,
        logdir=str(logdir),
        gunicorn=svc.url("gunicorn"),
        uvicorn=svc.url("uvicorn"),
        sandbox=svc.url("sandbox"),
        start_at=start_at,
        stop_at=stop_at,
        seed=args.seed,
    )
    schedule.start()
    _say(
        f"soak: load for {args.duration:.0f} s from {len(clients.PLAN)} client processes; "
        "faults: " + ", ".join(f"{s.name} at +{s.at:.0f} s" for s in schedule.steps)
    )
    deadline = stop_at + clients.STOP_GRACE
    problems = clients.join_clients(processes, deadline=deadline, logdir=str(logdir))
    schedule.join(timeout=max(1.0, deadline - time.time()))
    schedule.stop()
    return Load(schedule, problems, start_at, time.time())


def _probes(svc: services.Services, direct: str, logdir: Path) -> list[str]:
    """Rows a cookieless bot flood adds (made-up tokens), per front door."""
    probes = []
    for target, label in (("wsgi-html", "decorator (HTML)"), ("api", "DRF permission")):
        before = _rows(direct)
        bots.flood_probe(
            gunicorn=svc.url("gunicorn"),
            uvicorn=svc.url("uvicorn"),
            sandbox=svc.url("sandbox"),
            log_path=str(logdir / "probe.jsonl"),
            target=target,
            posts=PROBE_POSTS,
        )
        after = _rows(direct)
        per = ", ".join(
            f"{k} {(after[k] - before[k]) / PROBE_POSTS:.2f}"
            for k in ("sessions", "checkpoints", "events", "ledger")
        )
        probes.append(f"bot flood, {label}, made-up tokens: per POST {per}")
    return probes


def _cleanup_figures(svc: services.Services, direct: str, report: invariants.Report) -> None:
    """What captchala_cleanup does with those rows: by default, then for every event."""
    for extra in ([], ["--older-than", "0s"]):
        out = svc.manage("captchala_cleanup", *extra, database_url=direct).stdout.strip()
        rows = _rows(direct)
        report.figure(
            f"captchala_cleanup {' '.join(extra) or '(defaults)'}: {out.splitlines()[-1]}; "
            f"left: " + ", ".join(f"{k} {v}" for k, v in rows.items())
        )


def _metrics_figures(svc: services.Services, report: invariants.Report) -> None:
    """What the workers' metrics counted (the PgBouncer restart's persistence failures are
    there, where the database could not record them)."""
    try:
        lines = metrics.figures(svc.url("gunicorn") + "/metrics/")
    except Exception as exc:  # the metrics are a report, not an invariant
        lines = [f"metrics: not scraped ({type(exc).__name__}: {exc})"]
    for line in lines:
        report.figure(line)


def _print(report: invariants.Report, began: float, workdir: Path, keep: bool) -> None:
    """The figures, the violations, the wall time, then the summary line (last)."""
    for line in report.figures:
        _say("soak: " + line)
    for violation in report.violations:
        _say("soak: VIOLATION " + violation)
    kept = "kept" if report.violations or keep else "removed at exit"
    _say(f"soak: wall time {time.monotonic() - began:.1f} s; logs in {workdir} ({kept})")
    _say(
        f"soak: {report.requests} requests, {report.rate:.1f} req/s, "
        f"fast path p50/p99 {report.fast[0]:.1f}/{report.fast[1]:.1f} ms, "
        f"full check p50/p99 {report.full[0]:.1f}/{report.full[1]:.1f} ms, "
        f"{report.server_errors} server errors, {len(report.violations)} invariant violations"
    )


def run(args: argparse.Namespace, workdir: Path) -> int:
    database_url = os.environ.get("DATABASE_URL", "")
    svc = services.Services(workdir, database_url, app_pythonpath=args.app_pythonpath)
    began = time.monotonic()
    try:
        direct = _start(svc, args, workdir)
        load = _drive(svc, args, workdir)
        probes = _probes(svc, direct, workdir / "logs")
        report = invariants.check(
            workdir / "logs",
            load.schedule.windows,
            _sandbox(svc, "/sandbox/calls")["calls"],
            _sandbox(svc, "/sandbox/stats")["stats"],
            direct,
            invariants.Limits(TIMEOUT, CLAIM_MARGIN, BUDGET, services.APP_SECRET),
            (load.start_at, load.ended),
            [workdir / "gunicorn.log", workdir / "uvicorn.log"],
        )
        for problem in load.problems + load.schedule.errors:
            report.violate(problem)
        for line in probes:
            report.figure(line)
        _cleanup_figures(svc, direct, report)
        _metrics_figures(svc, report)
        _print(report, began, workdir, args.keep)
        return 1 if report.violations else 0
    finally:
        svc.stop_all()


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    if not os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://")):
        _say("soak: DATABASE_URL must point at PostgreSQL (run under scripts/with-postgres)")
        return 2
    missing = processes.missing_tools()
    if missing:
        _say("soak: cannot run, missing: " + ", ".join(missing))
        return 2
    # SIGTERM (a CI timeout) stops the services like any other failure.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    workdir = Path(tempfile.mkdtemp(prefix="captchala-soak-"))
    workdir.chmod(0o755)  # PgBouncer (as postgres) reads its config below it
    status = 2
    try:
        status = run(args, workdir)
    finally:
        if status == 0 and not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
        elif status == 2:  # it did not get as far as the summary
            _say(f"soak: logs kept in {workdir}")
    return status


if __name__ == "__main__":
    sys.exit(main())
