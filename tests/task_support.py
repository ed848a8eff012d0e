"""Real worker processes against the test database, and probe tasks for them to run.

The worker subprocesses (``mainspring worker``) use the very database the test uses
(``connection.settings_dict``: the SQLite file or the PostgreSQL test database), so
these tests run on both; they must be transactional tests, so what the test writes is
committed where the workers can see it.

The probe tasks record each run in a log file (attempt, process id, database backend
id) and their effect as a row with a unique key, so a test can tell "ran twice" from
"took effect twice".
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

from django.db import connection, transaction
from django_tasks import TaskContext, task

from mainspring.core.models import PeriodicRun

from .process_support import mainspring_bin

ROOT = Path(__file__).resolve().parents[1]
FAR_FUTURE = datetime(2999, 1, 1, tzinfo=UTC)


# -- probe tasks -------------------------------------------------------------------------
def _log_run(context: TaskContext, log_path: str) -> None:
    backend_pid = 0
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            backend_pid = cursor.fetchone()[0]
    with open(log_path, "a") as log:
        log.write(f"{context.attempt} {os.getpid()} {backend_pid}\n")


@task(takes_context=True)
def effect_then_hold(context: TaskContext, key: str, log_path: str, hold: float) -> str:
    """Commit the effect (idempotently), then, on the first attempt, hold for ``hold``
    seconds: the test kills the worker in that window, after the effect committed."""
    PeriodicRun.objects.get_or_create(name=f"effect:{key}", defaults={"next_run_at": FAR_FUTURE})
    _log_run(context, log_path)
    if context.attempt == 1:
        time.sleep(hold)
    return key


@task(takes_context=True)
def hold_in_transaction(context: TaskContext, key: str, log_path: str, hold: float) -> str:
    """The effect and a hold in one transaction: cut the connection during the hold and
    the effect rolls back. ``create`` (not get_or_create): a second effect would fail."""
    with transaction.atomic():
        PeriodicRun.objects.create(name=f"effect:{key}", next_run_at=FAR_FUTURE)
        _log_run(context, log_path)
        end = time.monotonic() + (hold if context.attempt == 1 else 0)
        while time.monotonic() < end:  # still at work, on the database
            with connection.cursor() as cursor:
                cursor.execute("SELECT 1")
            time.sleep(0.05)
    return key


@task()
def quick_effect(key: str) -> str:
    PeriodicRun.objects.get_or_create(name=f"effect:{key}", defaults={"next_run_at": FAR_FUTURE})
    return key


def effects(key: str) -> int:
    return PeriodicRun.objects.filter(name=f"effect:{key}").count()


def runs(log_path: Path) -> list[tuple[int, int, int]]:
    """(attempt, pid, backend pid) of each run so far."""
    if not log_path.exists():
        return []
    return [
        tuple(int(x) for x in line.split())  # type: ignore[misc]
        for line in log_path.read_text().splitlines()
        if line.strip()
    ]


# -- worker processes --------------------------------------------------------------------
def database_url() -> str:
    """The test database, as a MAINSPRING_DATABASE_URL a subprocess can use."""
    s = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{s['NAME']}"
    user = quote(s.get("USER") or "")
    password = f":{quote(s['PASSWORD'])}" if s.get("PASSWORD") else ""
    auth = f"{user}{password}@" if user else ""
    port = f":{s['PORT']}" if s.get("PORT") else ""
    return f"postgres://{auth}{s.get('HOST') or ''}{port}/{s['NAME']}"


def worker_env(data_dir: Path, **settings: object) -> dict[str, str]:
    """The worker's environment: this test database, short leases, fast retries."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAINSPRING_")}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    env.update(
        MAINSPRING_DATA_DIR=str(data_dir),
        MAINSPRING_DATABASE_URL=database_url(),
        MAINSPRING_LOG_LEVEL=os.environ.get("TEST_WORKER_LOG_LEVEL", "WARNING"),
        MAINSPRING_TASK_LEASE_SECONDS="2",
        MAINSPRING_TASK_RETRY_BASE_SECONDS="1",
        MAINSPRING_TASK_RETRY_MAX_SECONDS="2",
        # The probe tasks live in tests/, which the console script's path lacks.
        PYTHONPATH=str(ROOT),
        PYTHONUNBUFFERED="1",
    )
    env.update({f"MAINSPRING_{k.upper()}": str(v) for k, v in settings.items()})
    return env


def start_worker(env: dict[str, str], worker_id: str, log_file: Path) -> subprocess.Popen:
    with open(log_file, "ab") as out:
        return subprocess.Popen(
            [mainspring_bin(), "worker", "--interval", "0.1", "--worker-id", worker_id],
            env=env,
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def kill(proc: subprocess.Popen) -> None:
    """SIGKILL: no goodbye, no cleanup, the lease left to expire."""
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)


def stop(proc: subprocess.Popen, timeout: float = 30) -> int:
    """SIGTERM, as a supervisor stops a worker; SIGKILL if it does not stop in time."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            return proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            kill(proc)
    return proc.returncode


def wait_until(condition, seconds: float, what: str, step: float = 0.05):
    """Poll ``condition`` until it returns something true; fail after ``seconds``."""
    deadline = time.monotonic() + seconds
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"Timed out after {seconds}s waiting for {what}")
        time.sleep(step)
