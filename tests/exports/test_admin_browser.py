"""The staff admin in a real browser (headless Chromium driven by Playwright) against a live server
and a real Dramatiq worker: request an export from the campaign page, watch the list update itself
until it finishes, download the file, and check another campaign's staff see none of it."""

import csv
import io
import os
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
import requests
from django.conf import settings
from django.utils import timezone

from campaigns.models import Entry
from exports.models import Export, ExportEvent
from tests.conftest import uses_s3
from tests.factories import EntryFactory, FanFactory

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOT = Path(settings.BASE_DIR) / "out" / "screenshots" / "export-list.png"
PASSWORD = "pw-123456"  # tests.factories.UserFactory's


@pytest.fixture
def browser(monkeypatch):
    if not Path(CHROMIUM).exists():
        message = f"{CHROMIUM} is missing: apt-get install chromium (.ci/run does)"
        pytest.fail(message) if os.environ.get("CI") else pytest.skip(message)
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an event loop in this thread; the test's own ORM calls are
    # plain synchronous code all the same.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def log_in(browser, base_url: str, user):
    page = browser.new_context(viewport={"width": 1920, "height": 900}, accept_downloads=True).new_page()
    page.set_default_timeout(15_000)
    page.goto(f"{base_url}/admin/login/?next=/admin/")
    page.fill("#id_username", user.username)
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url(f"{base_url}/admin/")
    return page


def tsv_rows(content: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(content.decode("utf-8")), delimiter="\t"))


def other_jobs_for_the_picture(campaign) -> None:
    """A few jobs in other states, so the list shows its colours and a progress bar."""
    now = timezone.now()
    for export_type, status, extra in (
        ("verifiedEntries", "TRIGGERED", {"row_count": 4_000, "rows_written": 1_480, "bytes_written": 391_000}),
        ("fanlist", "FAILED", {"error_message": "This campaign has no markets.", "failure_kind": "data"}),
        ("codes", "CANCELLED", {"cancelled_at": now - timedelta(seconds=20)}),
    ):
        Export.objects.create(
            campaign=campaign,
            export_type=export_type,
            parameters={},
            parameters_digest=uuid.uuid4().hex,
            status=status,
            triggered_at=now - timedelta(seconds=95),
            heartbeat_at=now,
            **extra,
        )


def test_reporter_requests_watches_and_downloads_an_export(request, browser, live_server, campaign, reporter, outsider):
    market = campaign.markets.get()
    EntryFactory.create_batch(24, campaign=campaign, market=market)
    EntryFactory(campaign=campaign, market=market, fan=FanFactory(first_name='Tab\there, "quoted"'))
    other_jobs_for_the_picture(campaign)
    base = live_server.url

    # Request from the campaign's page, through the form built from the registry.
    page = log_in(browser, base, reporter)
    page.goto(f"{base}/admin/campaigns/campaign/{campaign.pk}/change/")
    page.click("text=Request export")
    assert page.input_value("#id_campaign") == str(campaign.pk)
    page.select_option("#id_export_type", "entries")
    assert page.is_visible("#id_entries__includeAllMarkets")
    assert not page.is_visible("#id_codeWaves__dateKey")
    page.click("input[value='Request export']")
    page.wait_for_url(f"{base}/admin/exports/export/?campaign__id__exact={campaign.pk}")
    assert "requested" in page.inner_text(".messagelist .success")
    export = Export.objects.get(export_type="entries")
    badge = f'.export-status[data-export-id="{export.pk}"]'
    assert page.get_attribute(badge, "data-status") == "PENDING"

    # No worker ran yet. Start one; the open list must show the job finish without a reload.
    page.evaluate("window.stillTheSamePage = true")
    request.getfixturevalue("export_worker")
    page.wait_for_selector(f'{badge}[data-status="FINISHED"]', timeout=30_000)
    assert page.evaluate("window.stillTheSamePage") is True
    row = page.locator("#result_list tr", has=page.locator(badge))
    assert "100%" in row.inner_text() and "25" in row.locator(".field-rows").inner_text()
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOT), full_page=True)

    # Download in the browser, from the list's link.
    with page.expect_download() as download_info:
        row.locator(".field-download_link a").click()
    rows = tsv_rows(Path(download_info.value.path()).read_bytes())
    expected_ids = [
        str(pk) for pk in Entry.objects.filter(campaign=campaign).order_by("id").values_list("id", flat=True)
    ]
    assert rows[0][:2] == ["id", "contest_title"] and [row[0] for row in rows[1:]] == expected_ids
    assert any(row[7] == 'Tab\there, "quoted"' for row in rows[1:])

    # The link behind it: a signed /downloads/ URL on the live server, or a presigned S3 (moto) URL.
    link = page.request.get(f"{base}/admin/exports/export/{export.pk}/download/", max_redirects=0)
    assert link.status == 302
    location = link.headers["location"]
    if uses_s3():
        assert location.startswith(settings.MOTO_ENDPOINT)
    else:
        assert location.startswith(f"{base}/downloads/")
    fetched = requests.get(location, timeout=10)
    assert fetched.status_code == 200 and tsv_rows(fetched.content) == rows
    actions = list(ExportEvent.objects.filter(export=export).order_by("at").values_list("action", flat=True))
    assert actions == ["requested", "downloaded", "downloaded"]

    # Staff of another campaign see nothing of it.
    other = log_in(browser, base, outsider)
    other.goto(f"{base}/admin/exports/export/")
    assert other.locator("#result_list").count() == 0 and "0 exports" in other.inner_text("#changelist")
    other.goto(f"{base}/admin/exports/export/{export.pk}/change/")
    assert other.url == f"{base}/admin/" and "doesn’t exist" in other.inner_text(".messagelist")
    other.goto(f"{base}/admin/campaigns/campaign/")
    assert campaign.name not in other.inner_text("#content")
    other.goto(f"{base}/admin/exports/exportevent/")
    assert str(export.pk)[:8] not in other.inner_text("#content")
