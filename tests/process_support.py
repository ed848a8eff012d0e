"""Real ``mainspring`` processes for the tests: a free port, the environment, and one way
to start ``mainspring serve``, wait until it answers and stop it (SIGTERM, as an
operator would)."""

from __future__ import annotations

import contextlib
import http.client
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# A server process with a data dir of its own runs on SQLite whatever the test run uses;
# running it again in the PostgreSQL pass would prove nothing new.
sqlite_pass_only = pytest.mark.skipif(
    os.environ.get("MAINSPRING_DATABASE_URL", "").startswith("postgres"),
    reason="the subprocess runs on its own SQLite data dir; the SQLite run covers it",
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def mainspring_bin() -> str:
    candidate = Path(sys.executable).with_name("mainspring")
    return str(candidate) if candidate.exists() else str(ROOT / ".venv" / "bin" / "mainspring")


def process_env(data_dir: Path) -> dict[str, str]:
    """This environment without any ``MAINSPRING_*`` setting, with ``data_dir`` as the
    process's own data dir (its SQLite database, secret key and media)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAINSPRING_")}
    env.update(MAINSPRING_DATA_DIR=str(data_dir), MAINSPRING_LOG_LEVEL="WARNING")
    env.pop("DJANGO_SETTINGS_MODULE", None)
    return env


def http_status(port: int, path: str) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request("GET", path)
        return conn.getresponse().status
    finally:
        conn.close()


@dataclass
class Served:
    """A running ``mainspring serve``: its port, and what it printed (read as it comes,
    so a chatty server never blocks on a full pipe)."""

    port: int
    proc: subprocess.Popen
    lines: list[str] = field(default_factory=list)

    @property
    def output(self) -> str:
        return "".join(self.lines)

    @property
    def returncode(self) -> int | None:
        return self.proc.returncode


@contextlib.contextmanager
def serving(env: dict[str, str], *args: str, ready_within: float = 60) -> Iterator[Served]:
    """``mainspring serve --bind 127.0.0.1:<free port> *args``, yielded once ``/healthz``
    answers 200; stopped with SIGTERM afterwards (killed if it takes over 30 s)."""
    port = free_port()
    proc = subprocess.Popen(
        [mainspring_bin(), "serve", "--bind", f"127.0.0.1:{port}", *args],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        errors="replace",
    )
    served = Served(port, proc)
    reader = threading.Thread(target=lambda: served.lines.extend(proc.stdout), daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + ready_within
        while True:
            try:
                if http_status(port, "/healthz") == 200:
                    break
            except OSError:
                pass
            assert proc.poll() is None, f"serve exited early:\n{served.output}"
            assert time.monotonic() < deadline, f"serve did not start:\n{served.output}"
            time.sleep(0.2)
        yield served
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        reader.join(10)
