"""The one set of permission rules, used by the API and the admin alike.

Actions come from Django permissions granted through auth groups; campaign visibility comes
from the campaign's access groups (superusers see everything). Both are needed to act on an
export: the action's permission, and the export's campaign visible to the user (the admin's and
the API's export reads are scoped with `visible_campaigns`, through exports.selectors).
"""

from __future__ import annotations

from django.contrib.auth.models import AnonymousUser, User
from django.db.models import QuerySet
from rest_framework.permissions import BasePermission
from rest_framework.throttling import UserRateThrottle

from campaigns.models import Campaign
from campaigns.selectors import campaigns_visible_to
from exports.errors import MissingPermissions
from exports.throttling import AtomicRateThrottle
from exportsite.conf import export_settings

AnyUser = User | AnonymousUser

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


def user_can(user: AnyUser, action: str) -> bool:
    permission, _ = ACTIONS[action]
    return bool(user.is_authenticated and user.is_active and user.has_perm(permission))


def require(user: AnyUser, action: str) -> None:
    """Raise MissingPermissions (403, orig wording) unless the user may do `action`."""
    if not user_can(user, action):
        raise MissingPermissions([ACTIONS[action][1]])


def visible_campaigns(user: AnyUser) -> QuerySet[Campaign]:
    """The campaigns whose data and exports `user` may see (superusers: all)."""
    return campaigns_visible_to(user)


class CanRequestExports(BasePermission):
    """DRF guard for the export endpoints (orig REPORT)."""

    def has_permission(self, request, view) -> bool:
        require(request.user, "request")
        return True


class CanDeleteForCcpa(BasePermission):
    def has_permission(self, request, view) -> bool:
        require(request.user, "ccpa_delete")
        return True


class PerUserThrottle(AtomicRateThrottle, UserRateThrottle):
    """API requests per user (anonymous: per client address), at EXPORTS_API_RATE (e.g. "300/min")."""

    scope = "exports"

    def get_rate(self) -> str:
        return export_settings().api_rate
