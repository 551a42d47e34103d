"""Default staff groups and the permissions each grants (created by a data migration and by
`manage.py ensure_groups`). Campaign visibility is separate: a campaign's access groups."""

from __future__ import annotations

from django.db.models import Q

# "app_label.codename" of each permission. The campaigns `view_*` ones let staff open the
# admin's campaign pages (read-only); which campaigns they see is still their access groups.
_READ = (
    "exports.view_export",
    "exports.view_exportevent",
    "campaigns.view_campaign",
    "campaigns.view_market",
)
DEFAULT_GROUPS: dict[str, tuple[str, ...]] = {
    "Campaign Reporter": ("exports.request_export", "exports.download_export", *_READ),
    "Export Operator": (
        "exports.request_export",
        "exports.download_export",
        "exports.retry_export",
        "exports.cancel_export",
        "exports.expire_export",
        *_READ,
    ),
    "Privacy Officer": ("exports.ccpa_delete", "exports.view_export", "exports.view_exportevent"),
}


def ensure_default_groups(group_model, permission_model) -> None:
    """Create the default groups and (re)attach their permissions; idempotent. Permissions that
    do not exist yet (e.g. in a data migration that runs before a model's) are skipped."""
    for group_name, names in DEFAULT_GROUPS.items():
        group, _ = group_model.objects.get_or_create(name=group_name)
        wanted = Q()
        for name in names:
            app_label, codename = name.split(".", 1)
            wanted |= Q(content_type__app_label=app_label, codename=codename)
        group.permissions.add(*permission_model.objects.filter(wanted))


def ensure_default_groups_in_migration(apps) -> None:
    """For data migrations: permissions are normally created after all migrations, so make
    them exist first, then (re)apply the roles with the historical models."""
    from django.contrib.auth.management import create_permissions

    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    ensure_default_groups(apps.get_model("auth", "Group"), apps.get_model("auth", "Permission"))


def demo_user_ensure(*, username: str, password: str, groups: tuple[str, ...]):
    """Create (or reset) a staff user in the given groups; for the zero-setup demo only."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group, Permission

    # Re-apply the default groups' permissions, so a demo database made before a role gained one
    # (e.g. the admin's view permissions) gets it on the next `make run`.
    ensure_default_groups(Group, Permission)
    user, _ = get_user_model().objects.get_or_create(username=username, defaults={"is_staff": True})
    user.is_staff = True
    user.is_active = True
    user.set_password(password)
    user.save()
    for name in groups:
        group, _ = Group.objects.get_or_create(name=name)
        user.groups.add(group)
    return user
