"""PRB numbering: PostgreSQL's sequence for problem numbers (SQLite counts in a row)."""

from django.db import migrations

from mainspring.core.numbering import sequence_operation


class Migration(migrations.Migration):
    dependencies = [("problems", "0001_initial")]
    operations = [sequence_operation("PRB")]
