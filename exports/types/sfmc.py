"""Salesforce Marketing Cloud (SFMC) tables for the reminder e-mail exports, as data (orig), plus
the pure functions that read them. No database access; no export type lives here.

Vocabulary:
- *region*: how rows are grouped into folders/files. US, CA, MX → NA; GB, IE → UK; every other
  country is its own region (its ISO code).
- *business unit*: the key of a Marketing Cloud MID (NA, LNE, MX, GB, IE, DE, AU). A region's
  files go to its *home unit* (NA → NA, or LNE for a Live Nation (`is_lnaa`) campaign; UK → GB;
  any other region → the unit of the same code), whose MID is in the file prefix.
- A *row's* MID is the unit of the fan's own country when it has one (MX → 523000091,
  IE → 1362441), else its region's home unit (US, CA → NA). LNAA campaigns send every NA row
  (US, CA and MX) through LNE.

Unknown countries: a market whose country resolves to no business unit (e.g. CH, FR, or a blank
country) raises `SfmcCountryUnknown`, which the export types turn into an ExportFailure naming
the market and the country. We fail instead of defaulting to NA on purpose: a default would send
fans of one country to another country's Marketing Cloud account, in the wrong language and
possibly across a data-protection border, and nobody would notice. Supporting a new country is
one line in `MID_BY_UNIT` (and `REGION_BY_COUNTRY` when it joins a shared region).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

NA = "NA"
UK = "UK"
LNE = "LNE"

# Countries that share a region; every other country is its own region. New Zealand is served
# by the Australian business unit (the orig locale map sends en-nz to en-au for the same reason).
REGION_BY_COUNTRY: dict[str, str] = {"US": NA, "CA": NA, "MX": NA, "GB": UK, "IE": UK, "NZ": "AU"}

# Business unit → Marketing Cloud MID (orig).
MID_BY_UNIT: dict[str, str] = {
    NA: "7222895",
    LNE: "518008883",
    "MX": "523000091",
    "GB": "1314420",
    "IE": "1362441",
    "DE": "1347780",
    "AU": "1341602",
}

# Region → the business unit its files are delivered to (default: the unit named like the region).
HOME_UNIT_BY_REGION: dict[str, str] = {NA: NA, UK: "GB"}
# Live Nation (`Campaign.is_lnaa`) campaigns use another unit in these regions.
LNAA_UNIT_BY_REGION: dict[str, str] = {NA: LNE}

# Business unit → SFMC file prefix (orig); units not listed use DEFAULT_FILE_PREFIX.
FILE_PREFIX_BY_UNIT: dict[str, str] = {NA: "Ticketmaster/7222895/TMDemandMgmt/DM_ArtistPresale_V03"}
DEFAULT_FILE_PREFIX = "TMInternational/{mid}/DM_ArtistPresale/DM_ArtistPresale_V03"

# Entry locales SFMC does not know → the SFMC locale (orig). Others pass through normalised.
SFMC_LOCALE_BY_LOCALE: dict[str, str] = {
    "en-mx": "en-us",
    "en-uk": "en-gb",
    "en-ie": "en-gb",
    "en-nz": "en-au",
}


class SfmcCountryUnknown(ValueError):
    """The country maps to no Marketing Cloud business unit."""

    def __init__(self, country: str):
        super().__init__(f"No SFMC business unit for country {country!r}")
        self.country = country


@dataclass(frozen=True)
class SfmcRegion:
    """Where one region's rows go: folder/region code, business unit, MID and file prefix."""

    code: str
    unit: str
    mid: str
    file_prefix: str


def normalize_country(country: str | None) -> str:
    return (country or "").strip().upper()


def sfmc_region_code(country: str | None) -> str:
    """The region of a country: NA for US/CA/MX, UK for GB/IE, else the country code itself."""
    code = normalize_country(country)
    if not code:
        raise SfmcCountryUnknown("")
    return REGION_BY_COUNTRY.get(code, code)


def sfmc_file_prefix(unit: str) -> str:
    return FILE_PREFIX_BY_UNIT.get(unit) or DEFAULT_FILE_PREFIX.format(mid=MID_BY_UNIT[unit])


def sfmc_region(country: str | None, *, is_lnaa: bool) -> SfmcRegion:
    """The region a country's rows are grouped into, with the unit its files are delivered to."""
    code = sfmc_region_code(country)
    unit = (LNAA_UNIT_BY_REGION.get(code) if is_lnaa else None) or HOME_UNIT_BY_REGION.get(code, code)
    if unit not in MID_BY_UNIT:
        raise SfmcCountryUnknown(normalize_country(country))
    return SfmcRegion(code=code, unit=unit, mid=MID_BY_UNIT[unit], file_prefix=sfmc_file_prefix(unit))


def sfmc_row_mid(country: str | None, *, is_lnaa: bool) -> str:
    """The MID written on a fan's row: LNAA in its regions, else the country's own unit, else
    the region's home unit."""
    region = sfmc_region(country, is_lnaa=is_lnaa)
    if is_lnaa and region.code in LNAA_UNIT_BY_REGION:
        return region.mid
    return MID_BY_UNIT.get(normalize_country(country), region.mid)


def sfmc_locale(locale: str | None) -> str:
    """`en_US` / `EN-us` → `en-us`, then the SFMC mapping (`en-mx` → `en-us`, …)."""
    normalized = (locale or "").strip().lower().replace("_", "-")
    return SFMC_LOCALE_BY_LOCALE.get(normalized, normalized)


def sfmc_artist_name(*, artist_name: str, is_fan_club: bool, fan_club_name: str) -> str:
    """The artist name in reminder e-mails (orig). A fan-club campaign uses its fan-club name when
    that already contains the artist's name (compared case-insensitively), else "artist fan-club"
    (`"{artist} {fan club}"`, e.g. `BTS` + `ARMY` → `BTS ARMY`). Blank parts are skipped."""
    artist = (artist_name or "").strip()
    club = (fan_club_name or "").strip()
    if not is_fan_club or not club:
        return artist
    if artist.casefold() in club.casefold():
        return club
    return f"{artist} {club}"


_KEY_UNSAFE = re.compile(r"[^A-Za-z0-9]+")
KEY_PART_MAX_CHARS = 80


def key_safe(text: str, *, fallback: str) -> str:
    """ASCII letters and digits joined by `-` (accents dropped), at most 80 characters: safe in an
    S3 key and in SFMC file-name patterns, and free of the `_` that separates name parts."""
    ascii_text = unicodedata.normalize("NFKD", text or "").encode("ascii", "ignore").decode("ascii")
    safe = _KEY_UNSAFE.sub("-", ascii_text).strip("-")[:KEY_PART_MAX_CHARS].strip("-")
    return safe or fallback
