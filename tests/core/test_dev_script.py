"""dev.py: ``run`` installs the app only, ``test``/``setup`` add the test tools; stamps
tell the two installs apart so neither reinstalls what is already there."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def dev(tmp_path, monkeypatch):
    spec = importlib.util.spec_from_file_location("dev_under_test", ROOT / "dev.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    root = tmp_path / "checkout"
    root.mkdir()
    for name in ("pyproject.toml", "constraints.txt"):
        (root / name).write_text((ROOT / name).read_text())
    venv = root / ".venv"
    (venv / "bin").mkdir(parents=True)
    monkeypatch.setattr(module, "ROOT", root)
    monkeypatch.setattr(module, "VENV", venv)
    monkeypatch.setattr(module, "PY", venv / "bin" / "python")
    module.installs = []

    def record(*cmd, **_kw):
        if "install" in cmd and "-e" in cmd:
            module.installs.append(cmd[-1])

    monkeypatch.setattr(module, "sh", record)
    return module


def test_run_installs_the_app_without_the_test_tools(dev):
    dev.ensure_python_packages(test_tools=False)
    assert dev.installs == ["."]
    dev.ensure_python_packages(test_tools=False)
    assert dev.installs == ["."]  # nothing changed: nothing installed


def test_test_after_run_adds_the_tools_and_run_after_test_installs_nothing(dev):
    dev.ensure_python_packages(test_tools=False)
    dev.ensure_python_packages(test_tools=True)
    assert dev.installs == [".", ".[test]"]
    dev.ensure_python_packages(test_tools=False)
    dev.ensure_python_packages(test_tools=True)
    assert dev.installs == [".", ".[test]"]


def test_changed_pins_reinstall(dev):
    dev.ensure_python_packages(test_tools=True)
    with (dev.ROOT / "constraints.txt").open("a") as pins:
        pins.write("\n# a new pin\n")
    dev.ensure_python_packages(test_tools=False)
    dev.ensure_python_packages(test_tools=True)
    assert dev.installs == [".[test]", ".", ".[test]"]


def test_setup_installs_the_test_tools_for_lint_and_ci(dev, monkeypatch):
    monkeypatch.setattr(dev, "ensure_venv", lambda: None)
    monkeypatch.setattr(dev, "ensure_frontend", lambda: None)
    monkeypatch.setattr(sys, "argv", ["dev.py", "setup"])
    dev.main()
    assert dev.installs == [".[test]"]


def test_run_does_not_announce_a_port_it_may_not_use(dev, monkeypatch, capsys):
    monkeypatch.setattr(dev, "ensure_env", lambda **_kw: None)
    monkeypatch.setattr(dev, "mainspring", lambda *args: None)
    started = []
    monkeypatch.setattr(dev.os, "execv", lambda path, argv: started.append(argv))
    dev.cmd_run(["--bind", "127.0.0.1:9000"])
    assert started[0][1:] == ["serve", "--bind", "127.0.0.1:9000"]
    # serve itself prints the address it listens on (tests/core/test_behind_proxy.py).
    assert "8000" not in capsys.readouterr().out
