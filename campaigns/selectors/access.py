"""Which campaigns a user may see."""

from __future__ import annotations

from django.contrib.auth.models import AnonymousUser, User
from django.db.models import QuerySet

from campaigns.models import Campaign


def campaigns_visible_to(user: User | AnonymousUser) -> QuerySet[Campaign]:
    """Superusers see every campaign; others those whose access groups they belong to."""
    if not user.is_authenticated or not user.is_active:
        return Campaign.objects.none()
    if user.is_superuser:
        return Campaign.objects.all()
    return Campaign.objects.filter(access_groups__in=user.groups.all()).distinct()


def campaign_get_visible(*, campaign_id: object, user: User | AnonymousUser) -> Campaign | None:
    try:
        pk = int(str(campaign_id))
    except ValueError:
        return None
    return campaigns_visible_to(user).filter(pk=pk).first()
