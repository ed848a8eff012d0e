"""/admin/ writes accounts, groups, members and tokens through identity.services: the
services' refusals are field errors on the page (never a 500), and what the services do
beyond saving (revoking tokens with a password) happens from /admin/ too."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.test import Client

from mainspring.identity import services
from mainspring.identity.models import ApiToken, AssignmentGroup, Membership, Role, User
from mainspring.identity.policy import Forbidden
from tests.conftest import token_for
from tests.factories import GroupFactory, UserFactory, add_member

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(admin) -> Client:
    client = Client()
    client.force_login(admin)
    return client


def user_form(user: User, **changes) -> dict:
    """The user change form as the browser posts it, with ``changes``."""
    form = {
        "username": user.username,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "email": user.email,
        "role": user.role,
        "display_name": user.display_name,
        "date_joined_0": user.date_joined.strftime("%Y-%m-%d"),
        "date_joined_1": user.date_joined.strftime("%H:%M:%S"),
    }
    for flag in ("is_active", "is_superuser", "is_demo"):
        if getattr(user, flag):
            form[flag] = "on"
    form.update(changes)
    return {k: v for k, v in form.items() if v is not None}


def test_an_admin_cannot_demote_themself_a_field_error_not_a_500(admin_client, admin):
    r = admin_client.post(
        f"/admin/identity/user/{admin.pk}/change/", user_form(admin, role=Role.AGENT)
    )
    assert r.status_code == 200
    assert services.SELF_LOCKOUT in r.content.decode()
    assert r.context["adminform"].form.errors["role"] == [services.SELF_LOCKOUT]
    admin.refresh_from_db()
    assert admin.role == Role.ADMIN


def test_an_admin_cannot_deactivate_themself(admin_client, admin):
    r = admin_client.post(
        f"/admin/identity/user/{admin.pk}/change/", user_form(admin, is_active=None)
    )
    assert r.status_code == 200
    assert r.context["adminform"].form.errors["is_active"] == [services.SELF_LOCKOUT]
    admin.refresh_from_db()
    assert admin.is_active


def test_an_admin_changes_someone_else_through_the_screen(admin_client, agent):
    r = admin_client.post(
        f"/admin/identity/user/{agent.pk}/change/",
        user_form(agent, role=Role.MANAGER, email="Agent.Smith@EXAMPLE.Test"),
    )
    assert r.status_code == 302, r.context["adminform"].form.errors
    agent.refresh_from_db()
    assert agent.role == Role.MANAGER
    # The service normalises the address; the form alone keeps it as typed.
    assert agent.email == "Agent.Smith@example.test"


def test_deactivating_an_account_in_the_admin_revokes_its_tokens(admin_client, agent):
    token_for(agent)
    r = admin_client.post(
        f"/admin/identity/user/{agent.pk}/change/", user_form(agent, is_active=None)
    )
    assert r.status_code == 302
    agent.refresh_from_db()
    assert not agent.is_active
    assert not ApiToken.objects.filter(user=agent, revoked_at__isnull=True).exists()


def test_a_password_set_in_the_admin_revokes_the_accounts_tokens(admin_client, agent):
    token_for(agent)
    r = admin_client.post(
        f"/admin/identity/user/{agent.pk}/password/",
        {
            "set_usable_password": "true",
            "password1": "A-new-long-passphrase-9",
            "password2": "A-new-long-passphrase-9",
        },
    )
    assert r.status_code == 302
    agent.refresh_from_db()
    assert agent.check_password("A-new-long-passphrase-9")
    assert not ApiToken.objects.filter(user=agent, revoked_at__isnull=True).exists()


def test_an_admin_cannot_delete_their_own_account(admin_client, admin):
    r = admin_client.post(f"/admin/identity/user/{admin.pk}/delete/", {"post": "yes"})
    assert r.status_code == 302
    assert r["Location"] == f"/admin/identity/user/{admin.pk}/change/"
    assert User.objects.filter(pk=admin.pk).exists()
    page = admin_client.get(r["Location"]).content.decode()
    assert "You cannot delete your own account" in page


def test_an_admin_deletes_another_account(admin_client):
    spare = UserFactory(username="spare")
    r = admin_client.post(f"/admin/identity/user/{spare.pk}/delete/", {"post": "yes"})
    assert r.status_code == 302
    assert not User.objects.filter(pk=spare.pk).exists()


@pytest.mark.parametrize("model", ["user", "assignmentgroup", "apitoken"])
def test_no_bulk_delete(admin_client, model):
    page = admin_client.get(f"/admin/identity/{model}/")
    assert page.status_code == 200
    assert "delete_selected" not in page.content.decode()


def test_members_are_added_changed_and_removed_through_the_services(
    admin_client, service_desk, agent, other_agent, manager
):
    ids = {m.user_id: m.pk for m in Membership.objects.filter(group=service_desk)}
    newcomer = UserFactory(username="newcomer", role=Role.AGENT)
    form = {
        "name": service_desk.name,
        "active": "on",
        "membership_set-TOTAL_FORMS": "4",
        "membership_set-INITIAL_FORMS": "3",
        # agent becomes a manager of the group
        "membership_set-0-id": ids[agent.pk],
        "membership_set-0-group": service_desk.pk,
        "membership_set-0-user": agent.pk,
        "membership_set-0-is_manager": "on",
        # other_agent's row now names the newcomer
        "membership_set-1-id": ids[other_agent.pk],
        "membership_set-1-group": service_desk.pk,
        "membership_set-1-user": newcomer.pk,
        # the manager leaves
        "membership_set-2-id": ids[manager.pk],
        "membership_set-2-group": service_desk.pk,
        "membership_set-2-user": manager.pk,
        "membership_set-2-is_manager": "on",
        "membership_set-2-DELETE": "on",
        "membership_set-3-group": service_desk.pk,
        "membership_set-3-user": "",
    }
    r = admin_client.post(f"/admin/identity/assignmentgroup/{service_desk.pk}/change/", form)
    assert r.status_code == 302, r.content.decode()[:2000]
    members = dict(
        Membership.objects.filter(group=service_desk).values_list("user__username", "is_manager")
    )
    assert members == {"agent": True, "newcomer": False}


def test_a_requester_added_as_member_is_a_field_error(admin_client, service_desk, requester):
    form = {
        "name": service_desk.name,
        "active": "on",
        "membership_set-TOTAL_FORMS": "1",
        "membership_set-INITIAL_FORMS": "0",
        "membership_set-0-group": service_desk.pk,
        "membership_set-0-user": requester.pk,
    }
    r = admin_client.post(f"/admin/identity/assignmentgroup/{service_desk.pk}/change/", form)
    assert r.status_code == 200
    assert "Only active agents can be members" in r.content.decode()
    assert not Membership.objects.filter(user=requester).exists()


def test_a_group_is_deleted_through_the_service(admin_client):
    group = GroupFactory(name="Short-lived")
    add_member(group, UserFactory(username="temp", role=Role.AGENT))
    r = admin_client.post(f"/admin/identity/assignmentgroup/{group.pk}/delete/", {"post": "yes"})
    assert r.status_code == 302
    assert not AssignmentGroup.objects.filter(pk=group.pk).exists()
    assert not Membership.objects.filter(group_id=group.pk).exists()


def test_tokens_are_revoked_by_the_action_and_never_edited(admin_client, agent):
    token_for(agent)
    token = ApiToken.objects.get(user=agent)
    page = admin_client.get(f"/admin/identity/apitoken/{token.pk}/change/").content.decode()
    assert 'name="revoked_at' not in page
    r = admin_client.post(
        "/admin/identity/apitoken/",
        {"action": "revoke", "_selected_action": [token.pk]},
    )
    assert r.status_code == 302
    token.refresh_from_db()
    assert token.revoked_at is not None


def test_the_new_services_are_for_administrators_only(agent, service_desk):
    with pytest.raises(Forbidden):
        services.save_user(by=agent, instance=agent, display_name="Me")
    with pytest.raises(Forbidden):
        services.delete_group(service_desk, by=agent)
    with pytest.raises(Forbidden):
        services.delete_user(UserFactory(username="x"), by=agent)
    with pytest.raises(Forbidden):
        services.change_password(UserFactory(username="y"), "Another-passphrase-1", by=agent)


def test_the_user_service_refuses_self_lockout_whatever_the_way_in(admin):
    me = User.objects.get(pk=admin.pk)
    me.role = Role.REQUESTER
    with pytest.raises(ValidationError) as raised:
        services.save_user(by=admin, instance=me)
    assert raised.value.message_dict == {"role": [services.SELF_LOCKOUT]}
    with pytest.raises(ValidationError):
        services.delete_user(admin, by=admin)
