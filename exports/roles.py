"""Default staff groups and the permissions each grants (created by a data migration and by
`manage.py ensure_groups`). Campaign visibility is separate: a campaign's access groups."""

from __future__ import annotations

DEFAULT_GROUPS: dict[str, tuple[str, ...]] = {
    "Campaign Reporter": ("request_export", "download_export", "view_export"),
    "Export Operator": (
        "request_export",
        "download_export",
        "view_export",
        "retry_export",
        "cancel_export",
        "expire_export",
    ),
    "Privacy Officer": ("ccpa_delete", "view_export"),
}


def ensure_default_groups(group_model, permission_model) -> None:
    """Create the default groups and (re)attach their permissions; idempotent."""
    for group_name, codenames in DEFAULT_GROUPS.items():
        group, _ = group_model.objects.get_or_create(name=group_name)
        permissions = permission_model.objects.filter(content_type__app_label="exports", codename__in=codenames)
        group.permissions.add(*permissions)


def demo_user_ensure(*, username: str, password: str, groups: tuple[str, ...]):
    """Create (or reset) a staff user in the given groups; for the zero-setup demo only."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group

    user, _ = get_user_model().objects.get_or_create(username=username, defaults={"is_staff": True})
    user.is_staff = True
    user.is_active = True
    user.set_password(password)
    user.save()
    for name in groups:
        group, _ = Group.objects.get_or_create(name=name)
        user.groups.add(group)
    return user
