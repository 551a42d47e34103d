"""The opt-in exports: `entries` rows (same columns, format and includeAllMarkets) for the
entries that gave one consent (orig): `artistOptIn` (allow_marketing), `artistSmsOptIn`
(allow_sms and a phone on the entry or the fan), `livenationOptIn` (allow_livenation)."""

from __future__ import annotations

from django.db.models import Q

from exports.types.entries import EntriesExport


class ArtistOptInExport(EntriesExport):
    key = "artistOptIn"
    label = "Artist opt-ins"
    description = "Entries that opted in to the artist's marketing, as in the entries export."
    entry_condition = Q(allow_marketing=True)


class ArtistSmsOptInExport(EntriesExport):
    key = "artistSmsOptIn"
    label = "Artist SMS opt-ins"
    description = "Entries that opted in to SMS and have a phone number, as in the entries export."
    # The phone cell falls back from the entry's phone to the fan's, so either one counts.
    entry_condition = Q(allow_sms=True) & (~Q(phone="") | ~Q(fan__phone=""))


class LivenationOptInExport(EntriesExport):
    key = "livenationOptIn"
    label = "Live Nation opt-ins"
    description = "Entries that opted in to Live Nation marketing, as in the entries export."
    entry_condition = Q(allow_livenation=True)
