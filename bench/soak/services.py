"""Start and stop the soak's processes: PgBouncer, Redis, the sandbox, gunicorn, uvicorn.

Each is a real process on a free loopback port. Every pid is remembered as it
starts, and :meth:`Services.stop_all` (called from a ``finally`` and from
``atexit``) stops each one by its pid, newest first, even after a failure.
PgBouncer refuses to run as root, so as root it runs as ``postgres``.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg

from .processes import (
    as_postgres,
    free_port,
    read_pidfile,
    stop_pid,
    wait_for_http,
    wait_for_port,
)

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "example_project"
APP_KEY = "sandbox-app-key"
APP_SECRET = "sandbox-app-secret"
GUNICORN_WORKERS = 4


@dataclass
class Services:
    """The processes of one soak run, all under ``workdir``."""

    workdir: Path
    database_url: str
    #: Put first on the app servers' PYTHONPATH (a patched copy of the package).
    app_pythonpath: str = ""
    python: str = sys.executable
    pids: dict[str, int] = field(default_factory=dict)
    procs: dict[str, subprocess.Popen] = field(default_factory=dict)
    ports: dict[str, int] = field(default_factory=dict)
    db_name: str = ""
    admin_url: str = ""
    #: The run's own database, directly (set by :meth:`create_database`).
    direct_url: str = ""

    # ------------------------------------------------------------------ lifecycle

    def __post_init__(self) -> None:
        atexit.register(self.stop_all)

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.ports[name]}"

    def _popen(self, name: str, args: list[str], **kwargs) -> subprocess.Popen:
        log = open(self.workdir / f"{name}.log", "ab")  # noqa: SIM115 - the child owns it
        try:
            proc = subprocess.Popen(
                args, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, **kwargs
            )
        finally:
            log.close()
        self.procs[name] = proc
        self.pids[name] = proc.pid
        return proc

    def stop(self, name: str, sig: int = signal.SIGTERM) -> None:
        pid = self.pids.pop(name, None)
        if pid is not None:
            stop_pid(pid, sig)
        proc = self.procs.pop(name, None)
        if proc is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=1)

    def stop_all(self) -> None:
        """Stop every process still running, newest first (by pid), then drop the database."""
        for name in reversed(list(self.pids)):
            with contextlib.suppress(Exception):
                self.stop(name)
        if self.db_name and self.admin_url:
            with contextlib.suppress(Exception):
                self.drop_database()

    # ------------------------------------------------------------------ PostgreSQL

    def create_database(self) -> str:
        """A fresh database for this run on the server of DATABASE_URL; its direct URL."""
        parts = urlsplit(self.database_url)
        if parts.scheme not in ("postgres", "postgresql", "pgsql"):
            raise RuntimeError(f"DATABASE_URL is not PostgreSQL: {parts.scheme}://...")
        self.admin_url = self.database_url
        name = f"captchala_soak_{os.getpid()}_{int(time.time())}"
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
            # Through PgBouncer a connection's "options" startup parameter is refused (or,
            # with ignore_startup_parameters, silently dropped): the database's own setting
            # reaches every server connection.
            conn.execute(f"ALTER DATABASE \"{name}\" SET lock_timeout = '2s'")
        self.db_name = name
        self.ports["postgres"] = parts.port or 5432
        self.direct_url = urlunsplit(parts._replace(path="/" + name))
        return self.direct_url

    def drop_database(self) -> None:
        name, self.db_name = self.db_name, ""
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
                [name],
            )
            conn.execute(f'DROP DATABASE IF EXISTS "{name}"')

    # ------------------------------------------------------------------ PgBouncer

    def start_pgbouncer(self) -> None:
        directory = self.workdir / "pgbouncer"
        directory.mkdir(exist_ok=True)
        parts = urlsplit(self.database_url)
        port = self.ports.setdefault("pgbouncer", free_port())
        user = parts.username or "postgres"
        (directory / "users.txt").write_text(f'"{user}" ""\n')
        (directory / "pgbouncer.ini").write_text(
            "[databases]\n"
            f"* = host={parts.hostname or '127.0.0.1'} port={parts.port or 5432}\n"
            "[pgbouncer]\n"
            "listen_addr = 127.0.0.1\n"
            f"listen_port = {port}\n"
            "auth_type = trust\n"
            f"auth_file = {directory}/users.txt\n"
            "pool_mode = transaction\n"
            "max_client_conn = 400\n"
            "default_pool_size = 20\n"
            "unix_socket_dir =\n"
            f"logfile = {directory}/pgbouncer.log\n"
            f"pidfile = {directory}/pgbouncer.pid\n"
        )
        if os.geteuid() == 0:
            shutil.chown(directory, "postgres")
            for child in directory.iterdir():
                shutil.chown(child, "postgres")
        pidfile = directory / "pgbouncer.pid"
        pidfile.unlink(missing_ok=True)
        subprocess.run(
            [*as_postgres(), "pgbouncer", "-d", str(directory / "pgbouncer.ini")],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.pids["pgbouncer"] = read_pidfile(pidfile)
        wait_for_port(port)

    def restart_pgbouncer(self, down: float) -> None:
        """Kill PgBouncer (SIGTERM: its immediate shutdown), stay down ``down`` s, start it."""
        self.stop("pgbouncer")
        time.sleep(down)
        self.start_pgbouncer()

    def app_database_url(self) -> str:
        """The run's database through PgBouncer."""
        parts = urlsplit(self.direct_url)
        netloc = f"{parts.username or 'postgres'}@127.0.0.1:{self.ports['pgbouncer']}"
        return urlunsplit(parts._replace(netloc=netloc))

    def show_through_pgbouncer(self, setting: str) -> str:
        """A server setting as the app sees it, through PgBouncer."""
        with psycopg.connect(self.app_database_url(), autocommit=True) as conn:
            return str(conn.execute(f"SHOW {setting}").fetchone()[0])

    def terminate_app_backends(self) -> int:
        """``pg_terminate_backend`` on every server connection of the app (PgBouncer's)."""
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            rows = conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = %s AND pid <> pg_backend_pid() "
                "AND backend_type = 'client backend'",
                [self.db_name],
            ).fetchall()
        return len(rows)

    # ------------------------------------------------------------------ Redis

    def start_redis(self) -> None:
        port = self.ports.setdefault("redis", free_port())
        pidfile = self.workdir / "redis.pid"
        subprocess.run(
            [
                "redis-server",
                "--port",
                str(port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--daemonize",
                "yes",
                "--pidfile",
                str(pidfile),
                "--logfile",
                str(self.workdir / "redis.log"),
                "--dir",
                str(self.workdir),
            ],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        self.pids["redis"] = read_pidfile(pidfile)
        wait_for_port(port)

    # ------------------------------------------------------------------ the sandbox

    def start_sandbox(self) -> None:
        port = self.ports.setdefault("sandbox", free_port())
        proc = self._popen(
            "sandbox",
            [self.python, "-m", "captchala_django.sandbox", "--port", str(port), "--quiet"],
            cwd=ROOT,
        )
        wait_for_http(self.url("sandbox") + "/sandbox/stats", proc=proc)

    # ------------------------------------------------------------------ the app

    def app_env(self, database_url: str) -> dict[str, str]:
        """The example project's environment: production-shaped, against our services."""
        sandbox = self.url("sandbox")
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("CAPTCHALA_", "DJANGO_", "DATABASE_", "CACHE_"))
        }
        pythonpath = [p for p in (self.app_pythonpath, str(EXAMPLE)) if p]
        env.update(
            PYTHONPATH=os.pathsep.join(pythonpath),
            PYTHONUNBUFFERED="1",
            DJANGO_SETTINGS_MODULE="example_project.settings",
            DJANGO_DEBUG="false",
            DJANGO_SECRET_KEY="soak-secret-key-not-for-production-0123456789",
            DJANGO_ALLOWED_HOSTS="127.0.0.1,localhost",
            DATABASE_URL=database_url,
            CACHE_URL=f"redis://127.0.0.1:{self.ports['redis']}/0",
            CAPTCHALA_SANDBOX="false",
            CAPTCHALA_APP_KEY=APP_KEY,
            CAPTCHALA_APP_SECRET=APP_SECRET,
            CAPTCHALA_API_URL=sandbox,
            CAPTCHALA_OFFLINE_API_URL=sandbox + "/api/validate",
            CAPTCHALA_LOADER_URL=sandbox + "/captchala-loader.js",
            CAPTCHALA_TIMEOUT="2",
            CAPTCHALA_CLAIM_ABANDONED_AFTER="5",
            # Every worker's metrics in one directory: /metrics/ merges them.
            PROMETHEUS_MULTIPROC_DIR=str(self.workdir / "prometheus"),
            DEMO_METRICS="true",  # /metrics/ with DEBUG off: the soak reads it at the end
        )
        (self.workdir / "prometheus").mkdir(exist_ok=True)
        return env

    def manage(self, *args: str, database_url: str) -> subprocess.CompletedProcess:
        done = subprocess.run(
            [self.python, "manage.py", *args],
            cwd=EXAMPLE,
            env=self.app_env(database_url),
            capture_output=True,
            text=True,
            timeout=300,
        )
        if done.returncode:
            raise RuntimeError(
                f"manage.py {' '.join(args)} exited with {done.returncode}:\n"
                + (done.stdout + done.stderr)[-3000:]
            )
        return done

    def _log_config(self) -> dict:
        """Errors (Django's 500 tracebacks) to the server's log; the package's INFO lines
        keep the example project's own handler."""
        return {
            "version": 1,
            "disable_existing_loggers": False,
            "formatters": {"plain": {"format": "%(asctime)s %(process)d %(name)s %(message)s"}},
            "handlers": {
                "errors": {
                    "class": "logging.StreamHandler",
                    "level": "ERROR",
                    "formatter": "plain",
                    "stream": "ext://sys.stderr",
                }
            },
            "root": {"level": "INFO", "handlers": ["errors"]},
        }

    def start_gunicorn(self, database_url: str) -> None:
        port = self.ports.setdefault("gunicorn", free_port())
        config = self.workdir / "gunicorn.conf.py"
        config.write_text(
            "import copy\n"
            "from gunicorn.glogging import CONFIG_DEFAULTS\n"
            "logconfig_dict = copy.deepcopy(CONFIG_DEFAULTS)\n"
            f"_ours = {self._log_config()!r}\n"
            "logconfig_dict['formatters'].update(_ours['formatters'])\n"
            "logconfig_dict['handlers'].update(_ours['handlers'])\n"
            "logconfig_dict['root'] = _ours['root']\n"
            "try:\n"
            "    from captchala_django.contrib.prometheus import child_exit  # noqa: F401\n"
            "except ImportError:  # prometheus-client is not installed: no metrics\n"
            "    pass\n"
        )
        proc = self._popen(
            "gunicorn",
            [
                self.python,
                "-m",
                "gunicorn",
                "example_project.wsgi",
                "-w",
                str(GUNICORN_WORKERS),
                "-b",
                f"127.0.0.1:{port}",
                "--config",
                str(config),
                "--timeout",
                "30",
                "--graceful-timeout",
                "5",
            ],
            cwd=EXAMPLE,
            env=self.app_env(database_url),
        )
        wait_for_http(self.url("gunicorn") + "/transfer/", proc=proc)

    def gunicorn_workers(self) -> list[int]:
        """The pids of gunicorn's workers: the children of its master."""
        master = self.pids["gunicorn"]
        children = Path(f"/proc/{master}/task/{master}/children")
        with contextlib.suppress(OSError):
            return [int(pid) for pid in children.read_text().split()]
        return []

    def start_uvicorn(self, database_url: str) -> None:
        port = self.ports.setdefault("uvicorn", free_port())
        config = self.workdir / "uvicorn-logging.json"
        config.write_text(json.dumps(self._log_config()))
        proc = self._popen(
            "uvicorn",
            [
                self.python,
                "-m",
                "uvicorn",
                "example_project.asgi:application",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--lifespan",
                "off",
                "--no-access-log",
                "--log-config",
                str(config),
            ],
            cwd=EXAMPLE,
            env=self.app_env(database_url),
        )
        wait_for_http(self.url("uvicorn") + "/async-transfer/", proc=proc)
