"""The one set of permission rules, used by the API and the admin alike.

Actions come from Django permissions granted through auth groups; campaign visibility comes
from the campaign's access groups (superusers see everything). Both are needed to act on an
export: the action's permission, and the export's campaign visible to the user.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import QuerySet
from rest_framework.permissions import BasePermission
from rest_framework.throttling import UserRateThrottle

from campaigns.models import Campaign
from campaigns.selectors import campaigns_visible_to
from exports.errors import ExportNotFound, MissingPermissions

User = AbstractBaseUser | AnonymousUser

# action → (Django permission, the orig name shown in errors)
ACTIONS: dict[str, tuple[str, str]] = {
    "view": ("exports.view_export", "REPORT"),
    "view_audit": ("exports.view_exportevent", "REPORT"),
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


def visible_campaigns(user: User) -> QuerySet[Campaign]:
    """The campaigns whose data and exports `user` may see (superusers: all)."""
    return campaigns_visible_to(user)


def can_see_campaign(user: User, campaign_id: object) -> bool:
    try:
        pk = int(str(campaign_id))
    except ValueError:
        return False
    return visible_campaigns(user).filter(pk=pk).exists()


def user_can_on_export(user: User, action: str, *, campaign_id: int) -> bool:
    """`action` on an export of campaign `campaign_id`: the permission and the campaign visible."""
    return user_can(user, action) and can_see_campaign(user, campaign_id)


def require_on_export(user: User, action: str, *, export_id: object, campaign_id: int) -> None:
    """Raise MissingPermissions without the permission, ExportNotFound (never leak existence)
    when the export's campaign is not visible."""
    require(user, action)
    if not can_see_campaign(user, campaign_id):
        raise ExportNotFound(export_id)


class CanRequestExports(BasePermission):
    """DRF guard for the export endpoints (orig REPORT)."""

    def has_permission(self, request, view) -> bool:
        require(request.user, "request")
        return True


class CanDeleteForCcpa(BasePermission):
    def has_permission(self, request, view) -> bool:
        require(request.user, "ccpa_delete")
        return True


class PerUserThrottle(UserRateThrottle):
    """API requests per user (anonymous: per client address), at EXPORTS_API_RATE (e.g. "300/min")."""

    scope = "exports"

    def get_rate(self) -> str:
        return settings.EXPORTS_API_RATE
