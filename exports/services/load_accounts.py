"""Accounts for the API load test (`make load`) and their access tokens (`manage.py mint_tokens`).

The load test needs many users so that the per-user API throttle does not hide the server's own
limit, and /auth/token would mint their tokens at the login rate only (10 a minute per address).
So tokens are minted here, directly, and only for accounts made for the load test: named
loadtest-NNNN, without a usable password (nobody can log in as them), never staff or superuser,
Campaign Reporters in one access group. No other account ever gets a token here.
"""

from __future__ import annotations

from datetime import UTC, datetime

from django.contrib.auth.models import Group, Permission, User
from django.db import transaction
from rest_framework_simplejwt.tokens import AccessToken

from campaigns.selectors import campaigns_visible_to
from exports.roles import ensure_default_groups

LOAD_USERNAME_PREFIX = "loadtest-"
LOAD_ROLE = "Campaign Reporter"
MAX_LOAD_ACCOUNTS = 10_000


class NotALoadAccount(Exception):
    """An account with a load-test name that the load test did not make (staff, or with a password)."""

    def __init__(self, username: str):
        super().__init__(
            f"{username} exists and is not a load-test account (it is staff or has a password): no token minted."
        )


def load_usernames(count: int) -> list[str]:
    return [f"{LOAD_USERNAME_PREFIX}{number:04d}" for number in range(count)]


@transaction.atomic
def load_accounts_ensure(*, count: int, access_group: str) -> list[User]:
    """Create (or reuse and reactivate) loadtest-0000… : `count` reporters in `access_group`,
    without a password. Raises NotALoadAccount, changing nothing, if a name belongs to another account."""
    if not 1 <= count <= MAX_LOAD_ACCOUNTS:
        raise ValueError(f"count must be between 1 and {MAX_LOAD_ACCOUNTS}")
    names = load_usernames(count)
    existing = list(User.objects.filter(username__in=names))
    for user in existing:
        if user.is_staff or user.is_superuser or user.has_usable_password():
            raise NotALoadAccount(user.username)
    ensure_default_groups(Group, Permission)
    groups = [Group.objects.get(name=LOAD_ROLE), Group.objects.get_or_create(name=access_group)[0]]
    taken = {user.username for user in existing}
    new = [User(username=name, is_active=True) for name in names if name not in taken]
    for user in new:
        user.set_unusable_password()
    User.objects.bulk_create(new)
    User.objects.filter(username__in=names, is_active=False).update(is_active=True)
    users = list(User.objects.filter(username__in=names).order_by("username"))
    memberships = User.groups.through
    memberships.objects.bulk_create(
        [memberships(user_id=user.pk, group_id=group.pk) for user in users for group in groups],
        ignore_conflicts=True,
    )
    return users


def load_access_tokens(*, users: list[User]) -> list[dict]:
    """An access token (simplejwt, ACCESS_TOKEN_LIFETIME; no refresh token, so it cannot be
    renewed) for each account, with the ids of the campaigns it can see."""
    minted = []
    for user in users:
        token = AccessToken.for_user(user)
        minted.append(
            {
                "username": user.username,
                "access": str(token),
                "expires_at": datetime.fromtimestamp(int(token["exp"]), UTC).isoformat(),
                "campaigns": [str(pk) for pk in campaigns_visible_to(user).order_by("pk").values_list("pk", flat=True)],
            }
        )
    return minted
