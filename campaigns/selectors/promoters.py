"""Reads for the promoter opt-in export: a campaign's promoters and the entries opted in to each."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from django.db.models import Count, Q

from campaigns.models import Entry, Promoter
from campaigns.selectors.entries import entry_pages

# Fields of an opted-in entry row (one joined query per page).
PROMOTER_OPT_IN_ROW_FIELDS: tuple[str, ...] = (
    "id",
    "created_at",
    "market_id",
    "locale",
    "email",
    "first_name",
    "last_name",
    "ip_postal_code",
    "fan__email",
    "fan__first_name",
    "fan__last_name",
    "fan__postal_code",
)


def campaign_promoters(*, campaign_id: int) -> list[Promoter]:
    """The campaign's promoters, in id order."""
    return list(Promoter.objects.filter(campaigns__id=campaign_id).order_by("id"))


def campaign_has_promoters(*, campaign_id: int) -> bool:
    return Promoter.objects.filter(campaigns__id=campaign_id).exists()


def promoter_opt_in_condition(*, promoter_id: int, require_allow_promoter: bool) -> Q:
    condition = Q(promoter_opt_ins=promoter_id)
    if require_allow_promoter:
        condition &= Q(allow_promoter=True)
    return condition


def promoter_opt_in_counts(
    *, campaign_id: int, promoter_ids: Sequence[int], upper_id: int, require_allow_promoter: bool
) -> dict[int, int]:
    """promoter id → number of the campaign's entries (id ≤ upper_id) opted in to it."""
    through = Entry.promoter_opt_ins.through
    queryset = through.objects.filter(
        entry__campaign_id=campaign_id, entry_id__lte=upper_id, promoter_id__in=promoter_ids
    )
    if require_allow_promoter:
        queryset = queryset.filter(entry__allow_promoter=True)
    # django-stubs cannot resolve a name added by annotate() in values_list() on this auto-created model.
    rows = queryset.order_by().values("promoter_id").annotate(n=Count("id")).values_list("promoter_id", "n")  # type: ignore[misc]
    return dict(rows)


def promoter_opt_in_pages(
    *, campaign_id: int, promoter_id: int, upper_id: int, page_size: int, require_allow_promoter: bool
) -> Iterator[list]:
    """Entries opted in to one promoter, in id order, one page of named rows at a time."""
    return entry_pages(
        campaign_id=campaign_id,
        upper_id=upper_id,
        page_size=page_size,
        condition=promoter_opt_in_condition(promoter_id=promoter_id, require_allow_promoter=require_allow_promoter),
        fields=PROMOTER_OPT_IN_ROW_FIELDS,
    )
