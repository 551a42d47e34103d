"""The one set of permission rules, used by the API and the admin alike.

Actions come from Django permissions granted through auth groups; campaign visibility comes
from the campaign's access groups (superusers see everything).
"""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from rest_framework.permissions import BasePermission

from exports.errors import MissingPermissions

User = AbstractBaseUser | AnonymousUser

# action → (Django permission, the orig name shown in errors)
ACTIONS: dict[str, tuple[str, str]] = {
    "request": ("exports.request_export", "REPORT"),
    "download": ("exports.download_export", "DOWNLOAD"),
    "retry": ("exports.retry_export", "RETRY"),
    "cancel": ("exports.cancel_export", "CANCEL"),
    "expire": ("exports.expire_export", "EXPIRE"),
    "ccpa_delete": ("exports.ccpa_delete", "SUPREME"),
}


def user_can(user: User, action: str) -> bool:
    permission, _ = ACTIONS[action]
    return bool(user.is_authenticated and user.is_active and user.has_perm(permission))


def require(user: User, action: str) -> None:
    """Raise MissingPermissions (403, orig wording) unless the user may do `action`."""
    if not user_can(user, action):
        raise MissingPermissions([ACTIONS[action][1]])


class CanRequestExports(BasePermission):
    """DRF guard for the export endpoints (orig REPORT)."""

    def has_permission(self, request, view) -> bool:
        require(request.user, "request")
        return True


class CanDeleteForCcpa(BasePermission):
    def has_permission(self, request, view) -> bool:
        require(request.user, "ccpa_delete")
        return True
