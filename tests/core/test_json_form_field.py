"""JSON typed into a form (the admin's JSON fields) is parsed like an API body."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from mainspring.core.forms import JSONFormField
from mainspring.core.parsing import NOT_FINITE_MESSAGE, NUL_MESSAGE, TOO_DEEP_MESSAGE
from mainspring.sla.models import BusinessCalendar, SlaDefinition


def test_valid_json_is_parsed():
    field = JSONFormField()
    assert field.clean('{"0": [["09:00", "17:00"]]}') == {"0": [["09:00", "17:00"]]}
    assert field.clean("[1, 2]") == [1, 2]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[" * 5000 + "]" * 5000, TOO_DEEP_MESSAGE),
        ("[1e400]", NOT_FINITE_MESSAGE),
        ('["\\u0000"]', NUL_MESSAGE),
    ],
)
def test_what_the_api_refuses_is_a_field_error(text, message):
    with pytest.raises(ValidationError) as info:
        JSONFormField().clean(text)
    assert info.value.messages == [message]


def test_a_refused_value_is_shown_back_as_typed():
    deep = "[" * 5000 + "]" * 5000
    assert str(JSONFormField().bound_data(deep, None)) == deep


def test_the_admin_answers_deep_json_with_the_form_again(client, admin):
    calendar = BusinessCalendar.objects.create(name="Always", hours={"0": [["00:00", "24:00"]]})
    client.force_login(admin)
    deep = "[" * 5000 + "]" * 5000
    page = client.post(
        "/admin/sla/sladefinition/add/",
        {
            "name": "Deep",
            "target": "resolution",
            "duration_seconds": "3600",
            "calendar": str(calendar.pk),
            "kinds": "[]",
            "priorities": deep,
            "category_ids": "[1e400]",
            "requester_group_ids": "[]",
            "assignment_group_ids": "[]",
            "pause_states": "[]",
            "reopen": "restart",
            "thresholds": "[]",
        },
    )
    assert page.status_code == 200
    assert TOO_DEEP_MESSAGE in page.content.decode()
    assert NOT_FINITE_MESSAGE.split(" (")[0] in page.content.decode()
    assert not SlaDefinition.objects.filter(name="Deep").exists()
