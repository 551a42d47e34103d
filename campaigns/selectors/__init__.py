"""Reads of campaign data, one module per area; big reads are keyset-paged iterators."""

from campaigns.selectors.access import campaign_get_visible, campaigns_visible_to
from campaigns.selectors.entries import (
    ENTRY_ROW_FIELDS,
    additional_market_count,
    additional_market_ids,
    campaign_markets,
    entry_count,
    entry_max_id,
    entry_pages,
)

__all__ = [
    "ENTRY_ROW_FIELDS",
    "additional_market_count",
    "additional_market_ids",
    "campaign_get_visible",
    "campaign_markets",
    "campaigns_visible_to",
    "entry_count",
    "entry_max_id",
    "entry_pages",
]
