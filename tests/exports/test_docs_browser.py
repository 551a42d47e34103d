"""The Swagger UI at /api/docs/ renders in headless Chromium with no network beyond the server."""

import pytest

from tests.exports.test_admin_browser import browser  # noqa: F401 - the Chromium fixture

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def test_swagger_ui_renders_offline(browser, live_server):  # noqa: F811 - fixture
    page = browser.new_context().new_page()
    foreign = []
    page.on(
        "request", lambda request: foreign.append(request.url) if not request.url.startswith(live_server.url) else None
    )
    page.goto(f"{live_server.url}/api/docs/")
    page.wait_for_selector(".swagger-ui .opblock", timeout=20_000)
    operations = page.locator(".swagger-ui .opblock-summary-path").all_inner_texts()
    assert any("/campaigns/{campaign_id}/exports" in text for text in operations)
    assert any("/ccpa/users/{user_id}" in text for text in operations)
    assert foreign == []
