"""Admins configure groups, categories and resolution codes over the API; others read.

Every write goes through the app's service (``identity.services.save_group``,
``incidents.services.save_category`` ...), so the API and /admin/ apply the same rules.
"""

from __future__ import annotations

import pytest

from mainspring.identity.models import AssignmentGroup, Membership, Role
from mainspring.incidents.models import Category, ResolutionCode
from tests.factories import CategoryFactory, UserFactory, make_incident

from .helpers import assert_error

pytestmark = pytest.mark.django_db

WRITES = [
    ("post", "/api/v1/groups/", {"name": "Database"}),
    ("post", "/api/v1/categories/", {"name": "Printers"}),
    ("post", "/api/v1/resolution-codes/", {"code": "vendor_fix", "label": "Vendor fix"}),
]


@pytest.mark.parametrize("who", ["requester", "agent", "manager"])
@pytest.mark.parametrize(("method", "path", "body"), WRITES)
def test_only_admins_write_configuration(api_for, request, who, method, path, body):
    client = api_for(request.getfixturevalue(who))
    assert_error(getattr(client, method)(path, body, format="json"), 403, "forbidden")
    assert client.get(path).status_code == 200  # everyone signed in reads it


def test_admin_creates_and_changes_a_group_and_its_members(api_for, admin, agent, manager):
    client = api_for(admin)
    r = client.post(
        "/api/v1/groups/",
        {"name": " Database ", "email": "dba@example.test", "description": "DBAs"},
        format="json",
    )
    assert r.status_code == 201, r.content
    group = r.json()
    assert (group["name"], group["active"], group["members"]) == ("Database", True, [])
    path = f"/api/v1/groups/{group['id']}/"

    r = client.post(path + "members/", {"username": agent.username}, format="json")
    assert r.json()["members"] == [agent.username] and r.json()["managers"] == []
    r = client.post(
        path + "members/", {"username": manager.username, "is_manager": True}, format="json"
    )
    assert r.json()["managers"] == [manager.username]
    assert Membership.objects.get(group_id=group["id"], user=manager).is_manager

    r = client.patch(path, {"active": False, "email": ""}, format="json")
    assert (r.json()["active"], r.json()["email"]) == (False, "")
    r = client.delete(path + f"members/{agent.username}/")
    assert r.json()["members"] == [manager.username]
    assert_error(client.delete(path + f"members/{agent.username}/"), 404, "not_found")
    assert_error(client.delete(path), 405)  # deactivate, never delete


def test_group_input_errors_name_the_field(api_for, admin, requester, service_desk):
    client = api_for(admin)
    err = assert_error(client.post("/api/v1/groups/", {"name": "service desk"}, format="json"), 400)
    assert "name" in err["fields"]  # names are unique ignoring case
    err = assert_error(
        client.post("/api/v1/groups/", {"name": "X", "email": "not-an-address"}, format="json"),
        400,
    )
    assert "email" in err["fields"]
    err = assert_error(client.post("/api/v1/groups/", {"name": "X", "id": 5}, format="json"), 400)
    assert err["fields"] == {"id": ["This field is read-only."]}
    path = f"/api/v1/groups/{service_desk.pk}/members/"
    err = assert_error(client.post(path, {"username": requester.username}, format="json"), 400)
    assert "username" in err["fields"]  # only agents work tickets
    err = assert_error(client.post(path, {"username": "nobody"}, format="json"), 400)
    assert "username" in err["fields"]
    assert AssignmentGroup.objects.filter(name="X").count() == 0


def test_admin_manages_categories_two_levels_deep(api_for, admin, requester):
    client = api_for(admin)
    r = client.post("/api/v1/categories/", {"name": "Printers"}, format="json")
    assert r.status_code == 201, r.content
    top = r.json()
    r = client.post("/api/v1/categories/", {"name": "Jams", "parent": top["id"]}, format="json")
    sub = r.json()
    assert sub["full_name"] == "Printers / Jams"

    err = assert_error(
        client.post("/api/v1/categories/", {"name": "Deeper", "parent": sub["id"]}, format="json"),
        400,
    )
    assert "parent" in err["fields"]
    err = assert_error(client.post("/api/v1/categories/", {"name": "printers"}, format="json"), 400)
    assert "name" in err["fields"]
    err = assert_error(
        client.patch(f"/api/v1/categories/{top['id']}/", {"parent": top["id"]}, format="json"),
        400,
    )
    assert "parent" in err["fields"]

    # A deactivated category stays on its tickets but can no longer be chosen.
    client.patch(f"/api/v1/categories/{top['id']}/", {"active": False}, format="json")
    err = assert_error(
        api_for(requester).post(
            "/api/v1/incidents/", {"title": "Paper jam", "category": top["id"]}, format="json"
        ),
        400,
    )
    assert "category" in err["fields"]


def test_admin_manages_resolution_codes(api_for, admin, agent, requester):
    client = api_for(admin)
    r = client.post(
        "/api/v1/resolution-codes/", {"code": "vendor_fix", "label": "Vendor fix"}, format="json"
    )
    assert r.status_code == 201, r.content
    err = assert_error(
        client.post(
            "/api/v1/resolution-codes/", {"code": "vendor_fix", "label": "Again"}, format="json"
        ),
        400,
    )
    assert "code" in err["fields"]
    err = assert_error(
        client.post(
            "/api/v1/resolution-codes/", {"code": "Not A Slug", "label": "x"}, format="json"
        ),
        400,
    )
    assert "code" in err["fields"]
    # The code is fixed once made: tickets and reports refer to it.
    err = assert_error(
        client.patch("/api/v1/resolution-codes/vendor_fix/", {"code": "dup"}, format="json"), 400
    )
    assert "code" in err["fields"]
    r = client.patch(
        "/api/v1/resolution-codes/vendor_fix/", {"label": "Fixed by the vendor"}, format="json"
    )
    assert r.json() == {"code": "vendor_fix", "label": "Fixed by the vendor", "active": True}

    client.patch("/api/v1/resolution-codes/vendor_fix/", {"active": False}, format="json")
    incident = make_incident(by=requester)
    api_for(agent).post(f"/api/v1/incidents/{incident.number}/start/", {}, format="json")
    err = assert_error(
        api_for(agent).post(
            f"/api/v1/incidents/{incident.number}/resolve/",
            {"resolution_code": "vendor_fix", "resolution_notes": "Same as INC1"},
            format="json",
        ),
        400,
    )
    assert "resolution_code" in err["fields"]
    assert ResolutionCode.objects.get(code="vendor_fix").active is False


def test_config_writes_take_no_markup_as_code(api_for, admin):
    name = "<script>alert(1)</script> Ops"
    r = api_for(admin).post("/api/v1/groups/", {"name": name}, format="json")
    assert r.json()["name"] == name  # stored as text; every page escapes it
    assert r["Content-Type"].startswith("application/json")


def test_category_list_query_count_is_constant(api_for, requester, django_assert_max_num_queries):
    client = api_for(requester)
    client.get("/api/v1/categories/")
    top = CategoryFactory(name="Hardware")
    for i in range(15):
        Category.objects.create(name=f"Sub {i}", parent=top)
    with django_assert_max_num_queries(2):
        assert len(client.get("/api/v1/categories/").json()["results"]) == 16


def test_group_member_changes_need_an_existing_group(api_for, admin):
    agent2 = UserFactory(username="agent2", role=Role.AGENT)
    r = api_for(admin).post(
        "/api/v1/groups/999999/members/", {"username": agent2.username}, format="json"
    )
    assert_error(r, 404)
