from django.contrib.auth.management import create_permissions
from django.db import migrations

from exports.roles import ensure_default_groups


def refresh_default_groups(apps, schema_editor):
    # 0002 ran before ExportEvent existed, so the roles lacked its view permission; re-apply
    # every role now that all the permissions they name exist.
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    ensure_default_groups(apps.get_model("auth", "Group"), apps.get_model("auth", "Permission"))


class Migration(migrations.Migration):
    dependencies = [
        ("exports", "0004_reliability"),
        ("campaigns", "0002_export_indexes"),
    ]

    operations = [migrations.RunPython(refresh_default_groups, migrations.RunPython.noop)]
