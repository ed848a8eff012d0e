"""Out-of-the-box reference data: resolution codes, the priority matrix, INC numbering."""

from django.db import migrations

RESOLUTION_CODES = [
    ("solved", "Solved (permanently)"),
    ("workaround", "Solved (workaround)"),
    ("not_reproducible", "Not reproducible"),
    ("duplicate", "Duplicate"),
    ("user_instructed", "User instructed"),
    ("no_fault_found", "No fault found"),
]

MATRIX = [
    ("high", "high", 1), ("high", "medium", 2), ("medium", "high", 2),
    ("high", "low", 3), ("medium", "medium", 3), ("low", "high", 3),
    ("medium", "low", 4), ("low", "medium", 4), ("low", "low", 5),
]


def forwards(apps, schema_editor):
    ResolutionCode = apps.get_model("incidents", "ResolutionCode")
    PriorityRule = apps.get_model("incidents", "PriorityRule")
    for code, label in RESOLUTION_CODES:
        ResolutionCode.objects.get_or_create(code=code, defaults={"label": label})
    for impact, urgency, priority in MATRIX:
        PriorityRule.objects.get_or_create(
            impact=impact, urgency=urgency, defaults={"priority": priority}
        )
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("CREATE SEQUENCE IF NOT EXISTS ticket_number_inc START 1001")


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP SEQUENCE IF EXISTS ticket_number_inc")


class Migration(migrations.Migration):
    dependencies = [("incidents", "0001_initial")]
    operations = [migrations.RunPython(forwards, backwards)]
