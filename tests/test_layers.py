"""The layers of docs/architecture.md, checked by import-linter's contracts in pyproject.toml.

``lint-imports`` also runs in .ci/run; this test makes ``python3 dev.py test`` catch a new
violation too, and proves the check can fail: the same contracts run against a copy of
the source with one forbidden import added per contract.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from django.apps import apps

from mainspring.core import registry

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = ROOT / "pyproject.toml"


def lint_imports(*, source_root: Path) -> subprocess.CompletedProcess[str]:
    """Run ``lint-imports`` with our contracts on the ``mainspring`` package found in
    ``source_root``; no cache, so a stale graph can never hide an import."""
    env = {**os.environ, "PYTHONPATH": str(source_root), "NO_COLOR": "1", "COLUMNS": "200"}
    return subprocess.run(
        [
            sys.executable,
            "-c",
            "from importlinter.cli import lint_imports_command; lint_imports_command()",
            "--config",
            str(PYPROJECT),
            "--no-cache",
        ],
        cwd=source_root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def contracts() -> dict[str, dict]:
    config = tomllib.loads(PYPROJECT.read_text())["tool"]["importlinter"]
    return {c["id"]: c for c in config["contracts"]}


def test_the_import_contracts_are_kept():
    result = lint_imports(source_root=ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


# New forbidden imports: (contract id, file, line added).
VIOLATIONS = [
    (
        "platform-imports-no-practice",
        "core/services.py",
        "from mainspring.incidents import models as _layer_test\n",
    ),
    (
        "platform-imports-no-practice",
        "identity/services.py",
        "import mainspring.incidents.services as _layer_test\n",
    ),
    (
        "cross-cutting-imports-no-practice",
        "sla/services.py",
        "from mainspring.incidents.models import Incident as _layer_test\n",
    ),
    (
        "cross-cutting-imports-no-practice",
        "knowledge/search.py",
        "from mainspring.incidents import services as _layer_test\n",
    ),
    (
        "practices-import-no-portal",
        "incidents/services.py",
        "from mainspring.portal import views as _layer_test\n",
    ),
]


@pytest.mark.parametrize(("contract", "path", "line"), VIOLATIONS)
def test_a_new_forbidden_import_breaks_its_contract(tmp_path, contract, path, line):
    shutil.copytree(
        ROOT / "mainspring",
        tmp_path / "mainspring",
        ignore=shutil.ignore_patterns("__pycache__", "static", "templates"),
    )
    target = tmp_path / "mainspring" / path
    target.write_text(target.read_text() + line)

    result = lint_imports(source_root=tmp_path)

    assert result.returncode == 1, result.stdout + result.stderr
    report = " ".join(result.stdout.split())
    assert f"{contracts()[contract]['name']} BROKEN" in report
    importer = "mainspring." + path.removesuffix(".py").replace("/", ".")
    assert f"{importer} -> mainspring." in report


def test_every_practice_is_in_every_contract():
    """A practice registered in core.registry but missing from a contract would be free to
    be imported by core, SLA, knowledge...: the lists in pyproject.toml name them all."""
    practice_apps = set()
    for practice in registry.practices():
        try:
            model = apps.get_model(practice.model_path)
        except LookupError:  # a stand-in practice that another test registered
            continue
        if model._meta.app_config.name.startswith("mainspring."):
            practice_apps.add(model._meta.app_config.name)
    assert "mainspring.incidents" in practice_apps

    by_id = contracts()
    for contract_id in ("platform-imports-no-practice", "cross-cutting-imports-no-practice"):
        missing = practice_apps - set(by_id[contract_id]["forbidden_modules"])
        assert not missing, f"add {sorted(missing)} to forbidden_modules of {contract_id}"
    missing = practice_apps - set(by_id["practices-import-no-portal"]["source_modules"])
    assert not missing, f"add {sorted(missing)} to source_modules of practices-import-no-portal"


def test_every_excused_import_is_marked_as_being_removed():
    """ignore_imports holds only today's known violations, each marked for removal; a new
    exception needs a decision, not a quiet extra line."""
    lines = PYPROJECT.read_text().splitlines()
    start = lines.index("[tool.importlinter]")
    for line in lines[start:]:
        if "->" in line:
            assert line.rstrip().endswith("# being removed (issue 10)"), line
