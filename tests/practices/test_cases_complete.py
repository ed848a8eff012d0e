"""A registered practice without a case would silently skip the per-kind suites."""

from mainspring.core import registry

from .cases import CASES, PracticeCase


def test_every_registered_practice_has_a_case():
    missing = [k for k in registry.kinds() if not isinstance(CASES.get(k), PracticeCase)]
    assert not missing, f"Add a PracticeCase to tests/practices/cases.py for: {missing}"
    assert registry.kinds(), "no practice is registered"
