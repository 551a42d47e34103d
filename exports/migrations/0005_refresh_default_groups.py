from django.db import migrations

from exports.roles import ensure_default_groups_in_migration


def refresh_default_groups(apps, schema_editor):
    # 0002 ran before ExportEvent existed, so the roles lacked its view permission; re-apply
    # every role now that all the permissions they name exist.
    ensure_default_groups_in_migration(apps)


class Migration(migrations.Migration):
    dependencies = [
        ("exports", "0004_reliability"),
        ("campaigns", "0002_export_indexes"),
    ]

    operations = [migrations.RunPython(refresh_default_groups, migrations.RunPython.noop)]
