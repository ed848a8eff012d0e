"""The ``mainspring`` command: Django pass-through, demo, and real serve/worker processes."""

from __future__ import annotations

import json
import signal
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from django.db import connection

from mainspring import cli
from mainspring.identity.models import User
from mainspring.incidents.models import Incident

from ..process_support import ROOT, mainspring_bin, process_env, serving, sqlite_pass_only


def run_cli(*args: str) -> None:
    try:
        cli.main(["mainspring", *args])
    except SystemExit as exc:  # Django exits only on errors (or for --help)
        assert exc.code in (None, 0), f"mainspring {' '.join(args)} exited {exc.code}"


def test_django_commands_pass_through(capsys):
    run_cli("check")
    assert "System check identified no issues" in capsys.readouterr().out


def test_help_lists_our_commands(capsys):
    run_cli("help")
    out = capsys.readouterr().out
    for name in ("demo", "mainspring_serve", "mainspring_worker", "migrate"):
        assert f"    {name}\n" in out


def test_unknown_command_fails(capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["mainspring", "no-such-command"])
    assert exit_info.value.code == 1
    assert "Unknown command" in capsys.readouterr().err


# Django's command runner closes every connection when a command ends, which a test
# transaction would not survive: these tests commit for real (and are flushed after).
@pytest.mark.django_db(transaction=True)
def test_demo_through_the_cli(capsys):
    run_cli("demo", "--incidents", "20", "--seed", "3")
    assert Incident.objects.count() == 20
    assert User.objects.filter(username="alice", is_demo=True).exists()

    run_cli("demo", "--if-empty")
    assert Incident.objects.count() == 20
    assert "alice" in capsys.readouterr().out


# --- real processes --------------------------------------------------------------------


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("serve-data")


def get(url: str) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


def wait_for(url: str, status: int, seconds: float) -> tuple[int, dict]:
    deadline = time.monotonic() + seconds
    last: tuple[int, dict] = (0, {})
    while time.monotonic() < deadline:
        try:
            last = get(url)
            if last[0] == status:
                return last
        except (OSError, ValueError):
            pass
        time.sleep(0.3)
    return last


@sqlite_pass_only
def test_serve_migrates_serves_and_runs_a_worker(data_dir):
    with serving(process_env(data_dir), "--threads", "2") as served:
        # Migrations applied by serve itself, and the in-process worker's heartbeat.
        status, body = wait_for(f"http://127.0.0.1:{served.port}/readyz", 200, 30)
        assert status == 200, body
        assert body["checks"] == {"database": "ok", "migrations": "ok", "worker": "ok"}
    assert served.returncode == 0, served.output
    assert "Traceback" not in served.output, served.output


@sqlite_pass_only
def test_worker_stops_cleanly_on_sigterm(data_dir):
    env = process_env(data_dir)
    subprocess.run(
        [mainspring_bin(), "migrate", "--no-input", "-v", "0"],
        env=env,
        cwd=ROOT,
        check=True,
        timeout=120,
    )
    proc = subprocess.Popen(
        [mainspring_bin(), "worker", "--interval", "0.2"],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        line = proc.stdout.readline().decode()
        assert "running" in line, line
        time.sleep(1)
        assert proc.poll() is None
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            output = proc.communicate(timeout=20)[0].decode(errors="replace")
        except subprocess.TimeoutExpired:
            proc.kill()
            output = proc.communicate()[0].decode(errors="replace")
    assert proc.returncode == 0, output
    assert "stopped" in output, output
    assert "Traceback" not in output, output


def test_vendor_marker_is_sane():
    # Guards the skip condition above against a renamed setting.
    assert connection.vendor in {"sqlite", "postgresql"}
