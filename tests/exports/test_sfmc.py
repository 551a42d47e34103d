"""The SFMC tables and rules (exports/types/sfmc.py): pure functions, no database."""

import pytest

from exports.types import sfmc
from exports.types.sfmc import SfmcCountryUnknown


@pytest.mark.parametrize(
    ("country", "region"),
    [("US", "NA"), ("CA", "NA"), ("MX", "NA"), ("GB", "UK"), ("IE", "UK"), ("DE", "DE"), ("AU", "AU"), ("fr", "FR")],
)
def test_countries_map_to_regions(country, region):
    assert sfmc.sfmc_region_code(country) == region


@pytest.mark.parametrize(
    ("country", "is_lnaa", "unit", "mid", "prefix"),
    [
        ("US", False, "NA", "7222895", "Ticketmaster/7222895/TMDemandMgmt/DM_ArtistPresale_V03"),
        ("ca", False, "NA", "7222895", "Ticketmaster/7222895/TMDemandMgmt/DM_ArtistPresale_V03"),
        ("MX", False, "NA", "7222895", "Ticketmaster/7222895/TMDemandMgmt/DM_ArtistPresale_V03"),
        ("US", True, "LNE", "518008883", "TMInternational/518008883/DM_ArtistPresale/DM_ArtistPresale_V03"),
        ("MX", True, "LNE", "518008883", "TMInternational/518008883/DM_ArtistPresale/DM_ArtistPresale_V03"),
        ("GB", False, "GB", "1314420", "TMInternational/1314420/DM_ArtistPresale/DM_ArtistPresale_V03"),
        ("IE", False, "GB", "1314420", "TMInternational/1314420/DM_ArtistPresale/DM_ArtistPresale_V03"),
        ("GB", True, "GB", "1314420", "TMInternational/1314420/DM_ArtistPresale/DM_ArtistPresale_V03"),
        ("DE", False, "DE", "1347780", "TMInternational/1347780/DM_ArtistPresale/DM_ArtistPresale_V03"),
        (" au ", True, "AU", "1341602", "TMInternational/1341602/DM_ArtistPresale/DM_ArtistPresale_V03"),
    ],
)
def test_region_business_unit_mid_and_file_prefix(country, is_lnaa, unit, mid, prefix):
    region = sfmc.sfmc_region(country, is_lnaa=is_lnaa)
    assert (region.unit, region.mid, region.file_prefix) == (unit, mid, prefix)


@pytest.mark.parametrize(
    ("country", "is_lnaa", "mid"),
    [
        ("US", False, "7222895"),
        ("CA", False, "7222895"),
        ("MX", False, "523000091"),
        ("GB", False, "1314420"),
        ("IE", False, "1362441"),
        ("DE", False, "1347780"),
        ("AU", False, "1341602"),
        ("US", True, "518008883"),
        ("MX", True, "518008883"),
        ("IE", True, "1362441"),
    ],
)
def test_row_mid_is_the_countrys_own_unit_else_the_regions(country, is_lnaa, mid):
    assert sfmc.sfmc_row_mid(country, is_lnaa=is_lnaa) == mid


@pytest.mark.parametrize("country", ["CH", "FR", "", None, "  "])
def test_countries_without_a_business_unit_are_refused(country):
    with pytest.raises(SfmcCountryUnknown) as raised:
        sfmc.sfmc_region(country, is_lnaa=False)
    assert raised.value.country == (country or "").strip().upper()
    with pytest.raises(SfmcCountryUnknown):
        sfmc.sfmc_row_mid(country, is_lnaa=True)


def test_every_table_entry_is_consistent():
    for unit in sfmc.MID_BY_UNIT:
        assert sfmc.sfmc_file_prefix(unit).count(sfmc.MID_BY_UNIT[unit]) == 1
    for region in {*sfmc.REGION_BY_COUNTRY.values()}:
        assert sfmc.HOME_UNIT_BY_REGION.get(region, region) in sfmc.MID_BY_UNIT
    assert set(sfmc.LNAA_UNIT_BY_REGION.values()) <= set(sfmc.MID_BY_UNIT)


@pytest.mark.parametrize(
    ("locale", "expected"),
    [
        ("en-mx", "en-us"),
        ("en-uk", "en-gb"),
        ("en-ie", "en-gb"),
        ("en-nz", "en-au"),
        ("EN_MX", "en-us"),
        (" en-US ", "en-us"),
        ("fr-ca", "fr-ca"),
        ("", ""),
        (None, ""),
    ],
)
def test_locales_are_normalised_and_mapped_for_sfmc(locale, expected):
    assert sfmc.sfmc_locale(locale) == expected


@pytest.mark.parametrize(
    ("artist", "is_fan_club", "club", "expected"),
    [
        ("BTS", False, "ARMY", "BTS"),
        ("BTS", True, "ARMY", "BTS ARMY"),
        ("Taylor Swift", True, "Taylor Swift Fan Club", "Taylor Swift Fan Club"),
        ("Mötley Crüe", True, "Official MÖTLEY CRÜE Fan Club", "Official MÖTLEY CRÜE Fan Club"),
        ("Artist", True, "", "Artist"),
        ("Artist", True, "  ", "Artist"),
        ("", True, "The Club", "The Club"),
        (" Spaced ", True, " Club ", "Spaced Club"),
    ],
)
def test_artist_name_of_fan_club_campaigns(artist, is_fan_club, club, expected):
    assert sfmc.sfmc_artist_name(artist_name=artist, is_fan_club=is_fan_club, fan_club_name=club) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('Zoë "Z", The Band', "Zoe-Z-The-Band"),
        ("AC/DC", "AC-DC"),
        ("../../etc", "etc"),
        ("山田", "x"),
        ("", "x"),
        ("a" * 200, "a" * 80),
        ("under_score", "under-score"),
    ],
)
def test_key_safe_keeps_ascii_letters_and_digits(text, expected):
    assert sfmc.key_safe(text, fallback="x") == expected


def test_new_zealand_is_served_by_the_australian_unit():
    region = sfmc.sfmc_region("NZ", is_lnaa=False)
    assert region.code == "AU" and region.mid == sfmc.MID_BY_UNIT["AU"]
    assert sfmc.sfmc_row_mid("NZ", is_lnaa=False) == sfmc.MID_BY_UNIT["AU"]
