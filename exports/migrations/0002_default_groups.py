from django.db import migrations

from exports.roles import ensure_default_groups_in_migration


def create_default_groups(apps, schema_editor):
    ensure_default_groups_in_migration(apps)


class Migration(migrations.Migration):
    dependencies = [
        ("exports", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(create_default_groups, migrations.RunPython.noop)]
