from __future__ import annotations

import pytest

from mainspring.core import registry

from .cases import CASES


def pytest_generate_tests(metafunc):
    if "case" in metafunc.fixturenames:
        kinds = registry.kinds()
        metafunc.parametrize("case", [CASES.get(k, k) for k in kinds], ids=kinds)


@pytest.fixture
def case(request):
    return request.param
