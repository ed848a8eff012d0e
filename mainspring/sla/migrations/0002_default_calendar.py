from django.db import migrations

ALL_DAY = [["00:00", "24:00"]]


def create_default(apps, schema_editor):
    BusinessCalendar = apps.get_model("sla", "BusinessCalendar")
    BusinessCalendar.objects.get_or_create(
        name="24×7",
        defaults={"time_zone": "UTC", "hours": {str(d): ALL_DAY for d in range(7)}},
    )


class Migration(migrations.Migration):
    dependencies = [("sla", "0001_initial")]
    operations = [migrations.RunPython(create_default, migrations.RunPython.noop)]
