"""`manage.py mint_tokens`: access tokens for the load test's accounts, outside the login throttle,
written owner-only to a file and nowhere else; refused in production without --allow-production
and for any account the load test did not make."""

from __future__ import annotations

import json
import stat
from io import StringIO
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command
from rest_framework.test import APIClient

from exports.services.load_accounts import load_usernames
from tests.factories import CampaignFactory, GroupFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _development_settings(settings):
    """DJANGO_DEBUG=1, as in development (pytest-django runs every test with DEBUG off)."""
    settings.DEBUG = True


@pytest.fixture
def load_campaigns():
    group = GroupFactory(name="Load Campaign Staff")
    return [CampaignFactory(access_groups=[group]) for _ in range(2)]


def _mint(path, *, users: int = 3, **options) -> str:
    out = StringIO()
    call_command("mint_tokens", users=users, access_group="Load Campaign Staff", output=path, stdout=out, **options)
    return out.getvalue()


def test_minted_tokens_work_for_every_account_and_go_only_to_an_owner_only_file(load_campaigns, tmp_path, caplog):
    path = tmp_path / "tokens.json"
    printed = _mint(path, users=3)

    tokens = json.loads(path.read_text())["tokens"]
    assert [token["username"] for token in tokens] == ["loadtest-0000", "loadtest-0001", "loadtest-0002"]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    # Bearer credentials: neither printed nor logged, and no temporary file is left beside them.
    for token in tokens:
        assert token["access"] not in printed and token["access"] not in caplog.text
    assert "3 access tokens" in printed and str(path) in printed
    assert [p.name for p in tmp_path.iterdir()] == ["tokens.json"]

    campaign_ids = sorted(str(campaign.pk) for campaign in load_campaigns)
    for token in tokens:
        assert token["campaigns"] == campaign_ids
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {token['access']}")
        for campaign_id in campaign_ids:
            assert client.get(f"/campaigns/{campaign_id}/exports").status_code == 200
        created = client.post(f"/campaigns/{campaign_ids[0]}/exports", {"exportType": "entries"}, format="json")
        assert created.status_code in (200, 201), created.content
    # Campaigns outside the access group stay invisible to them.
    other: Any = CampaignFactory(access_groups=[GroupFactory(name="someone else's staff")])
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens[0]['access']}")
    assert client.get(f"/campaigns/{other.pk}/exports").status_code == 404


def test_the_accounts_cannot_log_in_and_are_plain_reporters(load_campaigns, tmp_path):
    _mint(tmp_path / "tokens.json", users=2)
    for user in User.objects.filter(username__in=load_usernames(2)):
        assert not user.has_usable_password() and not user.is_staff and not user.is_superuser
        assert sorted(user.groups.values_list("name", flat=True)) == ["Campaign Reporter", "Load Campaign Staff"]
        assert not user.has_perm("exports.retry_export") and user.has_perm("exports.request_export")
    answer = APIClient().post("/auth/token", {"username": "loadtest-0000", "password": ""}, format="json")
    assert answer.status_code in (400, 401)
    answer = APIClient().post("/auth/token", {"username": "loadtest-0000", "password": "x" * 12}, format="json")
    assert answer.status_code == 401


def test_a_second_run_reuses_the_accounts_and_replaces_the_file(load_campaigns, tmp_path):
    path = tmp_path / "tokens.json"
    _mint(path, users=3)
    path.chmod(0o644)
    User.objects.filter(username="loadtest-0001").update(is_active=False)
    _mint(path, users=2)

    assert User.objects.filter(username__startswith="loadtest-").count() == 3
    assert User.objects.get(username="loadtest-0001").is_active  # reactivated: its token must work
    assert len(json.loads(path.read_text())["tokens"]) == 2
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_production_settings_need_allow_production(load_campaigns, tmp_path, settings):
    settings.DEBUG = False
    path = tmp_path / "tokens.json"
    with pytest.raises(CommandError, match="--allow-production"):
        _mint(path)
    assert not path.exists()
    assert not User.objects.filter(username__startswith="loadtest-").exists()

    _mint(path, users=1, allow_production=True)
    assert len(json.loads(path.read_text())["tokens"]) == 1


@pytest.mark.parametrize(
    "account",
    [
        {"is_staff": True},
        {"is_staff": False, "is_superuser": True},
        {"is_staff": False, "password": "a-real-password-1"},  # someone's account that happens to have the name
    ],
)
def test_never_mints_for_an_account_it_did_not_make(load_campaigns, tmp_path, account):
    user: Any = UserFactory(username="loadtest-0001", **account)
    if "password" not in account:
        user.set_unusable_password()
        user.save()
    path = tmp_path / "tokens.json"
    with pytest.raises(CommandError, match="loadtest-0001 exists and is not a load-test account"):
        _mint(path, users=3)
    assert not path.exists()
    assert not User.objects.filter(username__in=["loadtest-0000", "loadtest-0002"]).exists()  # nothing changed


def test_bad_arguments_are_refused(load_campaigns, tmp_path):
    with pytest.raises(CommandError, match="not between 1 and 10000"):
        call_command("mint_tokens", "--users", "0", "--access-group", "g", "--output", str(tmp_path / "t.json"))
    with pytest.raises(CommandError, match="folder of --output does not exist"):
        _mint(tmp_path / "missing" / "tokens.json", users=1)
