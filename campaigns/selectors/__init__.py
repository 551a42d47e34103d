"""Reads of campaign data, one module per area; big reads are keyset-paged iterators."""

from campaigns.selectors.access import campaign_get_visible, campaigns_visible_to
from campaigns.selectors.codes import (
    CODE_ROW_FIELDS,
    code_condition_assigned,
    code_condition_wave,
    code_count,
    code_max_id,
    code_pages,
)
from campaigns.selectors.entries import (
    ENTRY_ROW_FIELDS,
    additional_market_count,
    additional_market_ids,
    campaign_markets,
    entry_count,
    entry_ids_with_additional_market,
    entry_max_id,
    entry_pages,
)
from campaigns.selectors.fans import FAN_ENTRY_FIELDS, entries_by_fan
from campaigns.selectors.promoters import (
    PROMOTER_OPT_IN_ROW_FIELDS,
    campaign_has_promoters,
    campaign_promoters,
    promoter_opt_in_condition,
    promoter_opt_in_counts,
    promoter_opt_in_pages,
)
from campaigns.selectors.reminders import (
    ReminderRow,
    markets_by_id,
    selected_counts_by_market,
    selected_first_without_code,
    selected_reminder_pages,
)
from campaigns.selectors.scoring import (
    ENTRY_SCORING_FIELDS,
    SCORING_ROW_FIELDS,
    scoring_condition_has_entry,
    scoring_condition_waitlist,
    scoring_count,
    scoring_max_id,
    scoring_pages,
)

__all__ = [
    "ENTRY_ROW_FIELDS",
    "additional_market_count",
    "additional_market_ids",
    "campaign_get_visible",
    "campaign_markets",
    "campaigns_visible_to",
    "entry_count",
    "entry_ids_with_additional_market",
    "entry_max_id",
    "entry_pages",
    "CODE_ROW_FIELDS",
    "code_condition_assigned",
    "code_condition_wave",
    "code_count",
    "code_max_id",
    "code_pages",
    "FAN_ENTRY_FIELDS",
    "entries_by_fan",
    "ENTRY_SCORING_FIELDS",
    "SCORING_ROW_FIELDS",
    "scoring_condition_has_entry",
    "scoring_condition_waitlist",
    "scoring_count",
    "scoring_max_id",
    "scoring_pages",
    "PROMOTER_OPT_IN_ROW_FIELDS",
    "campaign_has_promoters",
    "campaign_promoters",
    "promoter_opt_in_condition",
    "promoter_opt_in_counts",
    "promoter_opt_in_pages",
    "ReminderRow",
    "markets_by_id",
    "selected_counts_by_market",
    "selected_first_without_code",
    "selected_reminder_pages",
]
