"""The PostgreSQL COPY fast path writes the same bytes as the portable path."""

import csv
import io
from datetime import UTC, date, datetime

import pytest
from django.db import connection

from campaigns.models import Campaign, Entry, Fan, Market
from exports import columns_sql
from exports.columns import guard_formula
from exports.engine import copy as copy_path
from exports.engine import export_run
from exports.services import export_request
from tests.conftest import read_export_bytes
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

ANSWERS = [
    {"p1": True, "p2": "=SUM(A1)", "p3": 3, "p4": [1, "b", None, True, {"zz": 1, "a": [2.5]}]},
    {"p1": False, "p2": "", "p3": 2.5, "p4": [], "p5": {"bbb": "x", "cc": None, "d": '\u0001\n"q"'}},
    {"p2": "tab\there", "p3": -7, "p4": ["=x", "y"], "p5": "line\r\nbreak"},
    {"p1": None, "p3": 3.0, "p4": "+1 (555)", "p5": [["nested", 1]]},
    {},
    # Text that looks like another JSON type stays text; a number's own text is normalised.
    {"p1": "2", "p2": "5.0", "p3": "[not a list]", "p4": "-x", "p5": "true"},
    {"p1": '{"k": 1}', "p2": 1e2, "p3": -0.5, "p4": "ébène", "p5": "12 tickets"},
    # Triggers hidden behind NFKC, whitespace or invisible characters (see AWKWARD).
    {"p1": "＝cmd", "p2": " -5", "p3": "\u200b=cmd", "p4": ["\ufeff+x", "y"], "p5": "＋１２３"},
    {"p1": "\u3000@x", "p2": "ébène", "p3": [" =a"], "p4": "＋1", "p5": "=\u0338x"},
]

# Cells the formula guard must see through, with what both paths must write for each.
AWKWARD = {
    "＝cmd": "'＝cmd",
    "＋1": "＋1",
    "－x": "'－x",
    "＠SUM": "'＠SUM",
    " =cmd": "' =cmd",
    "\u200b=cmd": "'\u200b=cmd",
    "\ufeff+x": "'\ufeff+x",
    "\u3000@x": "'\u3000@x",
    " -5": " -5",
    "＋１２３": "＋１２３",
    "ébène": "ébène",
    "\u00a0\t1": "'\u00a0\t1",
    "=\u0338x": "'=\u0338x",
}


def _dataset() -> Campaign:
    campaign = Campaign.objects.create(
        name='Fast "path", = test\tcampaign',
        preferences=[{"id": f"p{i}", "type": "t", "is_optional": True, "label": {}} for i in range(1, 6)],
    )
    markets = [
        Market.objects.create(
            campaign=campaign, name="A", city="Zürich", state="", event_date=date(2027, 3, 9), event_ids=["E1", "=E2"]
        ),
        Market.objects.create(campaign=campaign, name="B", city="", state="", event_date=None, event_ids=[]),
        Market.objects.create(
            campaign=campaign, name="C", city="Austin", state="TX", event_date=date(2027, 12, 31), event_ids=["X"]
        ),
    ]
    names = [
        "Ann",
        "",
        "=cmd",
        "-5",
        "+15551234567",
        "@me",
        "山田\n太郎",
        "bare\rcr",
        'q"uote',
        "\tlead",
        "+",
        "+12a",
        "-1.5e3",
        *AWKWARD,
    ]
    for index in range(2 * len(names)):
        fan = Fan.objects.create(
            tm_id=f"tm{index}" if index % 7 else "",
            member_id=names[index % len(names)],
            global_user_id=f"g{index}",
            email=names[(index + 3) % len(names)],
            phone=["", "+15550001111", "555 010", "-1"][index % 4],
            postal_code=["", "60601", "=1"][index % 3],
            first_name=names[index % len(names)],
            last_name=names[(index + 1) % len(names)],
        )
        entry = Entry.objects.create(
            campaign=campaign,
            fan=fan,
            market=markets[index % 3],
            locale=["en-us", "", "fr-ca"][index % 3],
            created_at=datetime(
                2026, 1, 1 + index % 28, index % 24, index, index, (index * 123457) % 1000000, tzinfo=UTC
            ),
            phone_confirmed_at=datetime(2026, 2, 1, tzinfo=UTC) if index % 2 else None,
            email=["", "entry@x.com", "=e"][index % 3],
            phone=["", "+1 555"][index % 2],
            first_name=names[(index + 5) % len(names)],
            last_name="",
            ip_address=["", "10.0.0.1", "-1.2"][index % 3],
            ip_postal_code=["", "SW1A"][index % 2],
            answers=ANSWERS[index % len(ANSWERS)],
            allow_marketing=index % 2 == 0,
            allow_sms=index % 3 == 0,
            allow_livenation=index % 5 == 0,
            fraud_score=[None, 0.25, 3.0, -1.5, 1e-05, 12345.678][index % 6],
            fan_score=[None, 7.0, 0.1][index % 3],
            latitude=[None, 40.7128][index % 2],
            longitude=[None, -73.935242][index % 2],
            score_band=["", "high", "=low"][index % 3],
        )
        entry.additional_markets.add(*markets[: index % 4])
    return campaign


BODIES: list[dict[str, object]] = [
    {"exportType": "entries"},
    {"exportType": "entries", "includeAllMarkets": True},
    {"exportType": "entries", "includeAllMarkets": True, "format": "csv"},
    {"exportType": "entries", "compression": "gzip"},
    {"exportType": "entries", "columns": ["id", "email", "#t.p4", "Select Show"], "includeAllMarkets": True},
    {"exportType": "artistOptIn", "includeAllMarkets": True},
    {"exportType": "artistSmsOptIn"},
    {"exportType": "livenationOptIn"},
    {"exportType": "scoring"},
]


def _bytes(campaign, body, user) -> bytes:
    export, created = export_request(campaign_id=campaign.pk, body=body, user=user)
    assert created
    assert export_run(export_id=str(export.pk)) == "finished"
    export.refresh_from_db()
    data = read_export_bytes(export)
    export.__class__.objects.filter(pk=export.pk).update(status="EXPIRED")
    return data


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the fast path exists on PostgreSQL only")
@pytest.mark.parametrize("body", BODIES, ids=[str(sorted(b.items())) for b in BODIES])
def test_fast_path_bytes_equal_portable_path_bytes(settings, monkeypatch, body):
    campaign = _dataset()
    user = UserFactory(is_superuser=True)
    last_market = campaign.markets.order_by("id").last()
    assert last_market is not None
    filters_market = last_market.pk
    calls = []
    real_usable = copy_path.copy_fast_path_usable

    def counted_usable(**kwargs):
        used = real_usable(**kwargs)
        if used:
            calls.append(1)
        return used

    monkeypatch.setattr(copy_path, "copy_fast_path_usable", counted_usable)
    for variant in (body, {**body, "filters": {"marketIds": [filters_market], "createdFrom": "2026-01-05T00:00:00Z"}}):
        settings.EXPORTS_COPY_FAST_PATH = True
        fast = _bytes(campaign, variant, user)
        assert calls, "the fast path was not used"
        calls.clear()
        settings.EXPORTS_COPY_FAST_PATH = False
        portable = _bytes(campaign, variant, user)
        assert not calls
        if variant.get("compression") == "gzip":
            import gzip

            fast, portable = gzip.decompress(fast), gzip.decompress(portable)
        assert fast == portable
        if "filters" not in variant:
            assert fast.count(b"\n") > 3
        if variant == {"exportType": "entries"}:
            _assert_awkward_cells(fast.decode("utf-8"))


def _assert_awkward_cells(tsv: str) -> None:
    cells = {cell for row in csv.reader(io.StringIO(tsv, newline=""), delimiter="\t") for cell in row}
    for raw, expected in AWKWARD.items():
        assert expected in cells, (raw, expected)
        if expected != raw:
            assert raw not in cells, raw
    # Answers: a joined list is guarded as one cell.
    assert "'\ufeff+x,y" in cells and "' =a" in cells


def _sql_guard(texts: list[str]) -> list[str | None]:
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {columns_sql._guard('t.x')} FROM unnest(%s::text[]) WITH ORDINALITY AS t(x, o) ORDER BY t.o",
            [texts],
        )
        return [row[0] for row in cursor.fetchall()]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the SQL twin runs on PostgreSQL only")
def test_sql_guard_matches_python_guard_for_every_character():
    """Every BMP character first, second, behind a space and before a digit, as guard_formula."""
    characters = [chr(c) for c in range(1, 0x10000) if not 0xD800 <= c <= 0xDFFF]
    texts = [
        text
        for c in characters
        for text in (c, c + "=x", c + "1", "=" + c, "-" + c + "5", " " + c + "x", "\u200b" + c + "9")
    ]
    texts += [*AWKWARD, "", "-５", "⁺1", "﹦1", "\n=x", " ", "\u200b", "+15551234567", "+1 (555) 010"]
    expected = [guard_formula(text) or None for text in texts]
    assert _sql_guard(texts) == expected
    assert _sql_guard(list(AWKWARD)) == list(AWKWARD.values())
