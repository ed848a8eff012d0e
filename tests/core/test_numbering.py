"""Numbers are per kind, formatted INC0001001, and unique under concurrency."""

import threading

import pytest
from django.db import close_old_connections, connection, transaction

from mainspring.core.numbering import next_number, parse_number
from mainspring.incidents.models import Incident
from tests.factories import make_incident


@pytest.mark.django_db
def test_numbers_are_sequential_and_formatted(requester):
    first = make_incident(by=requester)
    second = make_incident(by=requester)
    assert first.number.startswith("INC") and len(first.number) == 10
    assert int(second.number[3:]) == int(first.number[3:]) + 1


@pytest.mark.django_db
def test_other_kinds_get_their_own_sequence():
    # A prefix no migration made a sequence for starts at 1001 (made on first use)...
    with transaction.atomic():
        assert next_number("ZZT") == "ZZT0001001"
        assert next_number("ZZT") == "ZZT0001002"
        # ...and a practice's own (problems: made by its migration) counts on from there.
        # PostgreSQL sequences ignore rollbacks, so other tests may have drawn from it.
        first, second = next_number("PRB"), next_number("PRB")
        assert first.startswith("PRB") and int(second[3:]) == int(first[3:]) + 1


@pytest.mark.parametrize(
    ("typed", "number"),
    [
        ("INC0001042", "INC0001042"),
        ("inc1042", "INC0001042"),
        ("#1042", "INC0001042"),
        ("0001042", "INC0001042"),
        (" 1042 ", "INC0001042"),
        ("abc", None),
        ("INC", None),
        ("1" * 20, None),
    ],
)
def test_parse_number(typed, number):
    assert parse_number(typed, "INC") == number


def test_bad_prefix_is_refused():
    from mainspring.core.numbering import _sequence_name

    with pytest.raises(ValueError):
        _sequence_name("inc; DROP")


@pytest.mark.django_db(transaction=True)
def test_eight_concurrent_creators_never_collide(requester):
    """8 threads × 15 creates: every number distinct and no error, on both databases.

    On PostgreSQL this exercises the sequence; on SQLite the IMMEDIATE transactions and
    busy timeout (no "database is locked" reaches the user).
    """
    errors: list[BaseException] = []
    barrier = threading.Barrier(8)

    def create_many():
        try:
            barrier.wait()
            for _ in range(15):
                make_incident(by=requester)
        except BaseException as exc:  # surfaced below
            errors.append(exc)
        finally:
            close_old_connections()
            connection.close()

    threads = [threading.Thread(target=create_many) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    numbers = list(Incident.objects.values_list("number", flat=True))
    assert len(numbers) == 120
    assert len(set(numbers)) == 120
