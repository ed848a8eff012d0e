"""Every role × action × own/another's ticket, at the policy (UI and API use the same).

The API and UI matrices (tests/api, tests/ui, tests/portal) check that each path
turns these answers into the right status codes.
"""

import pytest

from mainspring.core.models import Watcher
from mainspring.identity.policy import Action, Forbidden, NotVisible, can, require
from tests.factories import UserFactory, make_incident

A = Action
REQUESTER_OWN = {A.VIEW, A.COMMENT, A.ATTACH, A.WATCH, A.REOPEN, A.CONFIRM}
WATCHER = {A.VIEW, A.COMMENT, A.ATTACH, A.WATCH}
AGENT = set(Action) - {A.REASSIGN, A.CONFIGURE}
MANAGER_OWN_GROUP = set(Action) - {A.CONFIGURE}
MANAGER_OTHER_GROUP = AGENT
ADMIN = set(Action)

pytestmark = pytest.mark.django_db


@pytest.fixture
def tickets(requester, other_requester, agent, service_desk, network_team):
    return {
        "own": make_incident(by=agent, requester=requester, assignment_group=service_desk),
        "others": make_incident(by=agent, requester=other_requester, assignment_group=network_team),
    }


def allowed_set(user, ticket):
    return {action for action in Action if can(user, action, ticket)}


def test_requester(requester, tickets):
    assert allowed_set(requester, tickets["own"]) == REQUESTER_OWN
    assert allowed_set(requester, tickets["others"]) == set()


def test_watcher_sees_and_talks_but_does_not_confirm(requester, tickets):
    Watcher.objects.create(ticket=tickets["others"], user=requester)
    assert allowed_set(requester, tickets["others"]) == WATCHER


def test_agent(agent, tickets):
    assert allowed_set(agent, tickets["own"]) == AGENT
    assert allowed_set(agent, tickets["others"]) == AGENT


def test_manager_reassigns_only_within_their_groups(manager, tickets):
    # manager manages Service Desk ("own"), not Network ("others").
    assert allowed_set(manager, tickets["own"]) == MANAGER_OWN_GROUP
    assert allowed_set(manager, tickets["others"]) == MANAGER_OTHER_GROUP


def test_admin(admin, tickets):
    assert allowed_set(admin, tickets["own"]) == ADMIN
    assert allowed_set(admin, tickets["others"]) == ADMIN


def test_disabled_user_sees_nothing(agent, tickets):
    agent.is_active = False
    agent.save()
    assert allowed_set(agent, tickets["own"]) == set()


def test_require_hides_others_tickets_as_not_visible(requester, tickets):
    with pytest.raises(NotVisible):
        require(requester, Action.VIEW, tickets["others"])
    with pytest.raises(Forbidden):
        require(requester, Action.WORK_NOTE, tickets["own"])


def test_visible_tickets_scopes_requesters(requester, other_requester, agent, tickets):
    from mainspring.identity.policy import visible_tickets

    def numbers(user):
        return set(visible_tickets(user).values_list("number", flat=True))

    assert numbers(requester) == {tickets["own"].number}
    Watcher.objects.create(ticket=tickets["others"], user=requester)
    assert numbers(requester) == {tickets["own"].number, tickets["others"].number}
    assert visible_tickets(agent).count() == 2
    anonymous_like = UserFactory(username="gone", is_active=False)
    assert visible_tickets(anonymous_like).count() == 0
