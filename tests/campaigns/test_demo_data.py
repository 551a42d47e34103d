"""The demo dataset generator: shape, determinism and the awkward values exports must survive."""

from io import StringIO

import pytest
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.db.models import Count, F, Q

from campaigns.models import Campaign, Code, Entry, Fan, Market, Promoter, ScoringRecord, SmsWave
from campaigns.services import demo_dataset_create

ENTRIES = 400
CAMPAIGNS = 4


@pytest.fixture
def demo():
    return demo_dataset_create(campaigns=CAMPAIGNS, entries=ENTRIES, seed=3)


def _snapshot(campaign_ids: list[int]) -> list[list[tuple]]:
    """Everything but database ids, campaigns replaced by their position."""
    position = {campaign_id: index for index, campaign_id in enumerate(campaign_ids)}
    campaigns = list(
        Campaign.objects.filter(pk__in=campaign_ids).values_list(
            "name", "artist_name", "is_fan_club", "is_lnaa", "theme_color", "preferences"
        )
    )
    markets = list(
        Market.objects.filter(campaign__in=campaign_ids).values_list(
            "name", "city", "state", "country", "event_date", "event_ids", "venue_name"
        )
    )
    entry_fields = [f.name for f in Entry._meta.concrete_fields if f.name not in ("id", "campaign", "fan", "market")]
    entries = [
        (position[row[0]], *row[1:])
        for row in Entry.objects.filter(campaign__in=campaign_ids).values_list(
            "campaign_id", "fan__tm_id", "fan__email", "fan__first_name", "market__name", *entry_fields
        )
    ]
    codes = list(
        Code.objects.filter(campaign__in=campaign_ids).values_list(
            "value", "market__name", "date_key", "status", "assigned_fan__tm_id", "assigned_at"
        )
    )
    records = list(
        ScoringRecord.objects.filter(campaign__in=campaign_ids).values_list(
            "fan__tm_id", "market__name", "score", "rank", "selected", "locale", "codes__value"
        )
    )
    return [campaigns, markets, entries, codes, records]


@pytest.mark.django_db
def test_small_dataset_has_the_requested_counts(demo):
    assert demo.counts() == {
        "campaigns": Campaign.objects.count(),
        "promoters": Promoter.objects.count(),
        "markets": Market.objects.count(),
        "fans": Fan.objects.count(),
        "entries": Entry.objects.count(),
        "additional_markets": Entry.additional_markets.through.objects.count(),
        "promoter_opt_ins": Entry.promoter_opt_ins.through.objects.count(),
        "codes": Code.objects.count(),
        "scoring_records": ScoringRecord.objects.count(),
        "scoring_codes": ScoringRecord.codes.through.objects.count(),
        "sms_waves": SmsWave.objects.count(),
        "sms_wave_fans": SmsWave.fans.through.objects.count(),
    }
    assert (demo.campaigns, demo.entries) == (CAMPAIGNS, ENTRIES)
    per_campaign = list(Campaign.objects.annotate(n=Count("entries")).order_by("id").values_list("n", flat=True))
    assert per_campaign[0] >= 0.7 * ENTRIES and sum(per_campaign) == ENTRIES
    assert Campaign.objects.filter(is_fan_club=True).exclude(fan_club_name="").count() == 1
    assert Campaign.objects.filter(is_lnaa=True).count() == 1
    assert all(3 <= n <= 8 for n in Campaign.objects.annotate(n=Count("markets")).values_list("n", flat=True))
    assert Market.objects.values("country").distinct().count() >= 3
    assert 0 < demo.sms_wave_fans < demo.entries and 0 < demo.promoter_opt_ins and 0 < demo.additional_markets


@pytest.mark.django_db
def test_same_seed_gives_the_same_data_and_another_seed_does_not():
    demo_dataset_create(campaigns=3, entries=150, seed=11)
    first = list(Campaign.objects.values_list("pk", flat=True))
    demo_dataset_create(campaigns=3, entries=150, seed=11)
    second = list(Campaign.objects.exclude(pk__in=first).values_list("pk", flat=True))
    demo_dataset_create(campaigns=3, entries=150, seed=12)
    third = list(Campaign.objects.exclude(pk__in=first + second).values_list("pk", flat=True))

    assert _snapshot(first) == _snapshot(second)
    assert _snapshot(first) != _snapshot(third)


def _fan_and_entry_with(lookup: str, value: str) -> bool:
    """Some fan and some entry hold the value in a name or the e-mail."""
    condition = Q()
    for name in ("first_name", "last_name", "email"):
        condition |= Q(**{f"{name}__{lookup}": value})
    return Fan.objects.filter(condition).exists() and Entry.objects.filter(condition).exists()


@pytest.mark.django_db
def test_awkward_values_are_present(demo):
    for text in (",", '"', "\t", "\n", "\r", "Zoë", "Ñúñez", "山田 太郎", "Ὀδυσσεύς", "🎸"):
        assert _fan_and_entry_with("contains", text), repr(text)
    for prefix in ("=", "+", "-", "@"):
        assert _fan_and_entry_with("startswith", prefix), prefix
    assert Fan.objects.filter(first_name='=HYPERLINK("http://x")', last_name="@SUM(1+1)").exists()
    assert Fan.objects.filter(first_name="+cmd", last_name="-2+3").exists()
    for field in ("first_name", "last_name", "email", "phone", "postal_code"):
        assert Fan.objects.filter(**{field: ""}).exists() and Fan.objects.exclude(**{field: ""}).exists(), field
    for field in ("first_name", "last_name", "email", "phone", "ip_postal_code"):
        assert Entry.objects.filter(**{field: ""}).exists() and Entry.objects.exclude(**{field: ""}).exists(), field
    assert Entry.objects.filter(fan__postal_code="").exclude(ip_postal_code="").exists()
    assert Entry.objects.filter(ip_postal_code="").exclude(fan__postal_code="").exists()
    assert Entry.objects.filter(fan__email="").exclude(email="").exists()
    assert Entry.objects.filter(phone_confirmed_at__isnull=True).exists()
    assert Entry.objects.filter(phone_confirmed_at__isnull=False).exists()


@pytest.mark.django_db
def test_entries_are_unique_per_campaign_and_fan_and_fans_are_shared(demo):
    duplicates = Entry.objects.values("campaign", "fan").annotate(n=Count("id")).filter(n__gt=1)
    assert not duplicates.exists()
    assert Fan.objects.annotate(n=Count("entries")).filter(n__gt=1).exists()
    assert not Entry.objects.filter(additional_markets=F("market")).exists()
    assert (
        not Entry.objects.exclude(additional_markets__campaign=F("campaign"))
        .filter(additional_markets__isnull=False)
        .exists()
    )


@pytest.mark.django_db
def test_every_campaign_but_the_last_has_promoters(demo):
    without = list(Campaign.objects.filter(promoters__isnull=True).values_list("pk", flat=True))
    last = Campaign.objects.last()
    assert last is not None
    assert without == [last.pk]
    assert all(
        2 <= n <= 3
        for n in Campaign.objects.exclude(pk__in=without).annotate(n=Count("promoters")).values_list("n", flat=True)
    )
    assert not Entry.objects.filter(campaign__in=without, promoter_opt_ins__isnull=False).exists()
    assert (
        not Entry.objects.exclude(promoter_opt_ins__campaigns=F("campaign"))
        .filter(promoter_opt_ins__isnull=False)
        .exists()
    )


@pytest.mark.django_db
def test_every_market_has_codes_in_numeric_waves(demo):
    assert not Market.objects.annotate(n=Count("codes")).filter(n=0).exists()
    assert set(Code.objects.values_list("status", flat=True)) == {"available", "reserved", "assigned"}
    assert all(key.isdigit() and len(key) == 13 for key in Code.objects.values_list("date_key", flat=True))
    assert not Code.objects.filter(status="assigned").filter(Q(assigned_fan=None) | Q(assigned_at=None)).exists()
    assert not Code.objects.exclude(status="assigned").filter(assigned_fan__isnull=False).exists()


@pytest.mark.django_db
def test_selected_scoring_records_have_a_code_for_their_market(demo):
    selected = ScoringRecord.objects.filter(selected=True)
    assert 0.15 * demo.scoring_records < selected.count() < 0.45 * demo.scoring_records
    matching = Count("codes", filter=Q(codes__market=F("market"), codes__assigned_fan=F("fan")))
    assert not selected.annotate(n=matching).filter(n=0).exists()
    assert not ScoringRecord.objects.filter(selected=False, codes__isnull=False).exists()


@pytest.mark.django_db
def test_progress_reaches_the_total():
    calls = []
    demo_dataset_create(campaigns=2, entries=30, seed=1, progress=lambda done, total: calls.append((done, total)))
    assert calls[-1][0] == calls[-1][1] > 0
    assert [done for done, _ in calls] == sorted(done for done, _ in calls)


@pytest.mark.django_db
def test_command_adds_the_access_group_and_respects_if_empty():
    out = StringIO()
    call_command("demo_data", entries=40, campaigns=2, if_empty=True, verbosity=0, stdout=out)
    assert "entries" in out.getvalue()
    group = Group.objects.get(name="Demo Campaign Staff")
    assert set(group.campaigns.values_list("pk", flat=True)) == set(Campaign.objects.values_list("pk", flat=True))

    again = StringIO()
    call_command("demo_data", entries=40, campaigns=2, if_empty=True, verbosity=0, stdout=again)
    assert "no demo data created" in again.getvalue()
    assert Campaign.objects.count() == 2
