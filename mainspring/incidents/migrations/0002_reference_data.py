"""Out-of-the-box reference data: resolution codes, the priority matrix, INC numbering."""

from django.db import migrations

from mainspring.incidents.reference import ensure_reference_data

def forwards(apps, schema_editor):
    ensure_reference_data(
        apps.get_model("incidents", "ResolutionCode"), apps.get_model("incidents", "PriorityRule")
    )
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("CREATE SEQUENCE IF NOT EXISTS ticket_number_inc START 1001")


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP SEQUENCE IF EXISTS ticket_number_inc")


class Migration(migrations.Migration):
    dependencies = [("incidents", "0001_initial")]
    operations = [migrations.RunPython(forwards, backwards)]
