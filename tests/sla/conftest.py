from __future__ import annotations

import datetime as dt

import pytest
import time_machine

from mainspring.sla.models import BusinessCalendar, SlaDefinition

T0 = dt.datetime(2026, 6, 1, 8, 0, tzinfo=dt.UTC)  # a Monday


@pytest.fixture
def clock():
    with time_machine.travel(T0, tick=False) as traveller:
        yield traveller


@pytest.fixture
def always(db):
    return BusinessCalendar.objects.create(
        name="Always (test)", hours={str(d): [["00:00", "24:00"]] for d in range(7)}
    )


@pytest.fixture
def make_sla(always):
    def make(**fields):
        fields.setdefault("name", f"SLA {SlaDefinition.objects.count() + 1}")
        fields.setdefault("target", "resolution")
        fields.setdefault("duration_seconds", 3600)
        fields.setdefault("calendar", always)
        return SlaDefinition.objects.create(**fields)

    return make
