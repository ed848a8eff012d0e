"""/admin/ applies the same configuration rules as the API (shared service checks)."""

from __future__ import annotations

import pytest
from django.test import Client

from mainspring.identity.models import AssignmentGroup, Membership
from mainspring.incidents.models import Category, ResolutionCode
from tests.factories import CategoryFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(admin) -> Client:
    admin.is_staff = True
    admin.save(update_fields=["is_staff"])
    client = Client()
    client.force_login(admin)
    return client


def test_category_rules_hold_in_the_admin(admin_client):
    top = CategoryFactory(name="Printers")
    sub = CategoryFactory(name="Jams", parent=top)
    r = admin_client.post("/admin/incidents/category/add/", {"name": "printers", "active": "on"})
    assert r.status_code == 200 and "A category with this name exists" in r.content.decode()
    r = admin_client.post(
        "/admin/incidents/category/add/", {"name": "Deeper", "parent": sub.pk, "active": "on"}
    )
    assert r.status_code == 200 and "subcategories have no children" in r.content.decode()
    assert Category.objects.count() == 2
    r = admin_client.post("/admin/incidents/category/add/", {"name": "Toner", "parent": top.pk})
    assert r.status_code == 302
    assert Category.objects.filter(name="Toner", parent=top).exists()


def test_group_rules_hold_in_the_admin(admin_client, requester, agent, service_desk):
    form = {
        "name": "SERVICE DESK",
        "active": "on",
        "membership_set-TOTAL_FORMS": "1",
        "membership_set-INITIAL_FORMS": "0",
        "membership_set-0-user": requester.pk,
    }
    r = admin_client.post("/admin/identity/assignmentgroup/add/", form)
    page = r.content.decode()
    assert r.status_code == 200
    assert "A group with this name exists" in page
    assert "Only active agents can be members" in page
    form.update({"name": "Network", "membership_set-0-user": agent.pk})
    assert admin_client.post("/admin/identity/assignmentgroup/add/", form).status_code == 302
    assert Membership.objects.filter(group__name="Network", user=agent).exists()
    assert AssignmentGroup.objects.filter(name__iexact="service desk").count() == 1


def test_a_resolution_code_is_fixed_once_made(admin_client):
    code = ResolutionCode.objects.get(code="solved")
    page = admin_client.get(f"/admin/incidents/resolutioncode/{code.pk}/change/").content.decode()
    assert 'name="code"' not in page and 'name="label"' in page
