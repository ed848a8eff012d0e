"""Priority comes from the admin-managed impact × urgency matrix."""

import time

import pytest

from mainspring.incidents.models import PriorityRule
from mainspring.incidents.services import calculate_priority, update_incident
from tests.factories import make_incident

MATRIX = {
    ("high", "high"): 1,
    ("high", "medium"): 2,
    ("medium", "high"): 2,
    ("high", "low"): 3,
    ("medium", "medium"): 3,
    ("low", "high"): 3,
    ("medium", "low"): 4,
    ("low", "medium"): 4,
    ("low", "low"): 5,
}


@pytest.mark.django_db
@pytest.mark.parametrize(("cell", "priority"), list(MATRIX.items()))
def test_default_matrix(cell, priority):
    assert calculate_priority(*cell) == priority


@pytest.mark.django_db
def test_matrix_is_configurable():
    assert calculate_priority("low", "low") == 5  # the matrix is now cached
    rule = PriorityRule.objects.get(impact="low", urgency="low")
    rule.priority = 4
    rule.save()  # as the admin page does: this process drops its copy at once
    assert calculate_priority("low", "low") == 4


@pytest.mark.django_db
def test_a_change_made_by_another_process_is_read_within_the_cache_time(settings):
    settings.REFERENCE_CACHE_SECONDS = 0.2
    assert calculate_priority("low", "low") == 5
    # A queryset update sends no signal, like a save in another server process.
    PriorityRule.objects.filter(impact="low", urgency="low").update(priority=4)
    assert calculate_priority("low", "low") == 5
    time.sleep(0.25)
    assert calculate_priority("low", "low") == 4


@pytest.mark.django_db
def test_no_caching_when_the_cache_time_is_zero(settings):
    settings.REFERENCE_CACHE_SECONDS = 0
    assert calculate_priority("high", "high") == 1
    PriorityRule.objects.filter(impact="high", urgency="high").update(priority=2)
    assert calculate_priority("high", "high") == 2


@pytest.mark.django_db
def test_priority_follows_impact_and_urgency_on_create_and_update(agent, requester):
    incident = make_incident(by=agent, requester=requester, impact="high", urgency="high")
    assert incident.priority == 1
    update_incident(incident, by=agent, urgency="low")
    incident.refresh_from_db()
    assert incident.priority == 3
    assert incident.audit.filter(field="priority", old_value="1", new_value="3").exists()


@pytest.mark.django_db
def test_requester_cannot_set_impact(requester):
    from mainspring.core.services import TicketValidationError

    with pytest.raises(TicketValidationError) as info:
        make_incident(by=requester, impact="high")
    assert "impact" in info.value.fields
