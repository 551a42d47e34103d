"""The access matrix: every route of the URL configuration × every kind of caller → one expected
status, through real requests (JWTs from the real /auth/token for the API, session logins for
the admin). Routes come from `get_resolver()`, so a new endpoint without an entry in EXPECTED
(or, for the admin, a matching ADMIN_RULES pattern) fails `test_every_route_is_classified`.

Statuses: a number, "L" (302 to the admin login page), "302" (a redirect anywhere else), or
alternatives ("200/503": a health check may fail).
Columns, in CALLERS order: anonymous, logged in without permission (staff, no group), reporter
of another campaign, reporter of this campaign, the requester of the export being read, privacy
officer, staff (Export Operator), superuser. Everyone but the outsider and the superuser is in
this campaign's access group, so the columns differ by role, and the outsider by visibility.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from typing import Any

import dramatiq
import pytest
from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.test import APIClient
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken

from exports.models import Export, ExportEvent
from tests.factories import CampaignFactory, EntryFactory, GroupFactory, MarketFactory, UserFactory

CALLERS = (
    "anonymous",
    "no_permission",
    "other_reporter",
    "reporter",
    "requester",
    "privacy_officer",
    "staff",
    "superuser",
)
LOGIN = "L"


def S(text: str) -> tuple[str, ...]:
    """One row of the matrix: eight statuses in CALLERS order."""
    row = tuple(text.split())
    assert len(row) == len(CALLERS), text
    return row


# --- the API and the other non-admin routes: URL name → method → row ------------------------
EXPECTED: dict[str, dict[str, tuple[str, ...]]] = {
    # an invisible campaign's POST is "Campaign not found." (400), as for a missing one
    "exports:campaign-exports": {
        "GET": S("401 403 404 200 200 403 200 200"),
        "POST": S("401 403 400 201 201 403 201 201"),
    },
    "exports:campaign-export-detail": {"GET": S("401 403 404 200 200 403 200 200")},
    "exports:ccpa-user-exports": {"DELETE": S("401 403 403 403 403 200 403 200")},
    "exports:export-types": {"GET": S("401 200 200 200 200 200 200 200")},
    "exports:download": {"GET": S("404 404 404 404 404 404 404 404")},  # an invalid token
    "token-obtain": {"POST": S("401 200 200 200 200 200 200 200")},  # anonymous: bad password
    "token-refresh": {"POST": S("401 200 200 200 200 200 200 200")},  # anonymous: bad token
    "heartbeat": {"GET": S("200/503 200/503 200/503 200/503 200/503 200/503 200/503 200/503")},  # no auth
    "prometheus-django-metrics": {"GET": S("200 200 200 200 200 200 200 200")},  # no token set
    "schema": {"GET": S("200 200 200 200 200 200 200 200")},
    "api-docs": {"GET": S("200 200 200 200 200 200 200 200")},
}

# --- the admin: (pattern over the URL name, or the path of unnamed routes) → method → row ----
# Redirects to the admin index ("302" for a logged-in caller) answer an object the caller cannot
# see, exactly as a missing one. GET + POST where POST changes something, GET elsewhere.
SUPER = S("L 403 403 403 403 403 403 200")  # only the superuser (no role grants these)
SUPER_DONE = S("L 403 403 403 403 403 403 302")  # ... and the superuser's POST saved or deleted
NOBODY = S("L 403 403 403 403 403 403 403")  # refused to everyone (read-only admins)
SCOPED_HISTORY = S("L 302 302 403 403 403 403 200")  # invisible → redirect, visible → no permission
CAMPAIGN_READ = S("L 403 200 200 200 403 200 200")  # view_campaign / view_market; lists are scoped
CAMPAIGN_OBJECT = S("L 403 302 200 200 403 200 200")
CAMPAIGN_HISTORY = S("L 302 302 200 200 403 200 200")
EXPORT_READ = S("L 403 200 200 200 200 200 200")  # view_export / view_exportevent; lists are scoped
EXPORT_OBJECT = S("L 403 302 200 200 200 200 200")
EXPORT_HISTORY = S("L 302 302 200 200 200 200 200")
ALL_STAFF = S("L 200 200 200 200 200 200 200")
_FULL = (
    r"(auth_group|auth_user|campaigns_(promoter|code|entry|fan|scoringrecord|smswave)|token_blacklist_blacklistedtoken)"
)
_VIEW_ONLY = r"(token_blacklist_outstandingtoken|django_dramatiq_task)"
_SCOPED = r"campaigns_(code|entry|fan|scoringrecord|smswave)"
# django-axes' admin (its database tables; the cache handler in use never writes them). With the
# cache handler its AccessAttempt save/delete hooks are missing (500): AXES_ENABLE_ADMIN=False
# removes these pages, hence OPTIONAL_RULES.
_AXES = r"axes_(accessattempt|accesslog|accessfailurelog)"
ADMIN_RULES: list[tuple[str, dict[str, tuple[str, ...]]]] = [
    # models only the superuser may touch (users, groups, tokens, fans' personal data, codes)
    (rf"admin:{_FULL}_changelist", {"GET": SUPER, "POST": SUPER}),
    (r"admin:campaigns_fan_(add|change)", {"GET": SUPER, "POST": SUPER_DONE}),  # no required field
    (rf"admin:{_FULL}_(add|change)", {"GET": SUPER, "POST": SUPER}),  # an empty form: its errors
    (rf"admin:{_FULL}_delete", {"GET": SUPER, "POST": SUPER_DONE}),
    (rf"admin:{_SCOPED}_history", {"GET": SCOPED_HISTORY}),
    (rf"admin:{_FULL}_history", {"GET": SUPER}),
    (r"admin:auth_user_password_change", {"GET": SUPER, "POST": SUPER}),
    (rf"admin:{_VIEW_ONLY}_changelist", {"GET": SUPER, "POST": SUPER}),
    (rf"admin:{_VIEW_ONLY}_(add|delete)", {"GET": NOBODY, "POST": NOBODY}),
    (rf"admin:{_VIEW_ONLY}_change", {"GET": SUPER, "POST": NOBODY}),
    (rf"admin:{_VIEW_ONLY}_history", {"GET": SUPER}),
    (rf"admin:{_AXES}_changelist", {"GET": SUPER, "POST": SUPER}),
    (rf"admin:{_AXES}_add", {"GET": NOBODY, "POST": NOBODY}),
    (rf"admin:{_AXES}_(change|delete)", {"GET": SUPER, "POST": SUPER_DONE}),
    (rf"admin:{_AXES}_history", {"GET": SUPER}),
    # campaigns and markets: read-only for the roles, scoped to the caller's campaigns
    (r"admin:campaigns_(campaign|market)_changelist", {"GET": CAMPAIGN_READ, "POST": CAMPAIGN_READ}),
    (r"admin:campaigns_(campaign|market)_add", {"GET": SUPER, "POST": SUPER}),
    (r"admin:campaigns_(campaign|market)_change", {"GET": CAMPAIGN_OBJECT, "POST": SUPER}),
    (r"admin:campaigns_campaign_delete", {"GET": SUPER, "POST": NOBODY}),  # its entries protect it
    (r"admin:campaigns_market_delete", {"GET": SUPER, "POST": SUPER}),  # the "protected" page
    (r"admin:campaigns_(campaign|market)_history", {"GET": CAMPAIGN_HISTORY}),
    # exports and their audit trail: read-only for everyone (services change them), scoped
    (r"admin:exports_(export|exportevent)_changelist", {"GET": EXPORT_READ, "POST": EXPORT_READ}),
    (r"admin:exports_(export|exportevent)_(add|delete)", {"GET": NOBODY, "POST": NOBODY}),
    (r"admin:exports_(export|exportevent)_change", {"GET": EXPORT_OBJECT, "POST": NOBODY}),
    (r"admin:exports_(export|exportevent)_history", {"GET": EXPORT_HISTORY}),
    (r"admin:exports_export_status", {"GET": EXPORT_READ}),
    # no request permission: back to the index with a message
    (
        r"admin:exports_export_request",
        {"GET": S("L 302 200 200 200 302 200 200"), "POST": S("L 302 200 200 200 302 200 200")},
    ),
    # each answers with a redirect and a message; whether it happened is checked separately
    (r"admin:exports_export_download", {"GET": S("L 403 302 302 302 302 302 302")}),
    (
        r"admin:exports_export_(retry|cancel|expire)",
        {"GET": S("L 405 405 405 405 405 405 405"), "POST": S("L 403 302 302 302 302 302 302")},
    ),
    # the site's own pages
    (r"admin:index", {"GET": ALL_STAFF}),
    (r"admin:app_list", {"GET": S("L 404 200 200 200 200 200 200")}),  # /admin/exports/
    (r"admin:login", {"GET": S("200 302 302 302 302 302 302 302"), "POST": S("200 200 200 200 200 200 200 200")}),
    (r"admin:logout", {"GET": S("302 405 405 405 405 405 405 405"), "POST": S("302 200 200 200 200 200 200 200")}),
    (r"admin:password_change", {"GET": ALL_STAFF, "POST": ALL_STAFF}),  # POST: an empty form
    (r"admin:(password_change_done|jsi18n)", {"GET": ALL_STAFF}),
    (r"admin:autocomplete", {"GET": S("L 403 403 403 403 403 403 403")}),  # no autocomplete fields
    (r"admin:view_on_site", {"GET": S("L 404 404 404 404 404 404 404")}),  # no get_absolute_url
    (r"admin/\w+/\w+/<path:object_id>/", {"GET": S("L 302 302 302 302 302 302 302")}),  # → .../change/
    (r"admin/\(\?P<url>\.\*\)\$", {"GET": S("L 404 404 404 404 404 404 404")}),  # unknown admin URL
]
OPTIONAL_RULES = {rule for rule, _ in ADMIN_RULES if _AXES in rule}


@dataclass(frozen=True)
class Route:
    key: str  # the URL name (namespaced), or the pattern of an unnamed route
    pattern: str


def _walk(resolver: URLResolver, prefix: str = "", namespace: str = "") -> list[tuple[str, str, Any]]:
    found = []
    for entry in resolver.url_patterns:
        if isinstance(entry, URLResolver):
            inner = f"{namespace}:{entry.namespace}".strip(":") if entry.namespace else namespace
            found += _walk(entry, prefix + str(entry.pattern), inner)
        elif isinstance(entry, URLPattern):
            name = f"{namespace}:{entry.name}".strip(":") if entry.name else ""
            found.append((name, prefix + str(entry.pattern), entry.callback))
    return found


def _methods(callback: Any) -> tuple[str, ...] | None:
    """The HTTP methods a class-based view implements; None for function views."""
    view_class = getattr(callback, "view_class", None) or getattr(callback, "cls", None)
    if view_class is None:
        return None
    return tuple(m.upper() for m in ("get", "post", "put", "patch", "delete") if hasattr(view_class, m))


def admin_rule(key: str) -> dict[str, tuple[str, ...]] | None:
    for pattern, rows in ADMIN_RULES:
        if re.fullmatch(pattern, key):
            return rows
    return None


ROUTES = [Route(key=name or pattern, pattern=pattern) for name, pattern, _ in _walk(get_resolver())]


def test_every_route_is_classified():
    """A route, or a method of an API view, without its row fails here (and in test_access)."""
    unclassified, wrong_methods = [], []
    for name, pattern, callback in _walk(get_resolver()):
        key = name or pattern
        rows = admin_rule(key) if pattern.startswith("admin/") else EXPECTED.get(key)
        if not rows:
            unclassified.append(key)
            continue
        implemented = _methods(callback)
        if implemented is not None and not pattern.startswith("admin/") and set(implemented) != set(rows):
            wrong_methods.append(f"{key}: implements {implemented}, classified {tuple(rows)}")
    assert not unclassified, f"routes without an expected status per caller: {unclassified}"
    assert not wrong_methods, wrong_methods
    keys = {route.key for route in ROUTES}
    assert not set(EXPECTED) - keys, f"EXPECTED names routes that no longer exist: {set(EXPECTED) - keys}"
    unused = [
        pattern
        for pattern, _ in ADMIN_RULES
        if pattern not in OPTIONAL_RULES and not any(re.fullmatch(pattern, key) for key in keys)
    ]
    assert not unused, f"ADMIN_RULES patterns matching no route: {unused}"


# --- the data: made once for the module, inside a transaction rolled back at its end; each test
# runs in a savepoint of it, so what a call changes is gone for the next test ---------------------
# The export a route acts on, by the route's last path segment: one the action is possible for.
_STATUS_FOR = {"cancel": "PENDING", "retry": "FAILED", "expire": "FINISHED", "download": "FINISHED"}
# Admin POSTs that change the export, and who may make them (the rest must leave it untouched).
_ACTIONS_ALLOWED_TO = ("staff", "superuser")
_ROLES = {"reporter": "Campaign Reporter", "privacy_officer": "Privacy Officer", "staff": "Export Operator"}


@dataclass
class World:
    campaign: Any
    access_group: Any
    users: dict[str, Any]
    exports: dict[str, Export]
    objects: dict[str, Any] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)

    @classmethod
    def create(cls) -> World:
        access_group = GroupFactory(name=f"campaign-staff-{uuid.uuid4().hex[:6]}")
        campaign: Any = CampaignFactory(name="Summer Tour", access_groups=[access_group])
        MarketFactory(campaign=campaign)
        other_group = GroupFactory(name=f"other-staff-{uuid.uuid4().hex[:6]}")
        CampaignFactory(name="Other campaign", access_groups=[other_group])
        users: dict[str, Any] = {
            "no_permission": UserFactory(),
            "other_reporter": UserFactory(groups=["Campaign Reporter", other_group]),
            "requester": UserFactory(groups=["Campaign Reporter", access_group]),
            **{kind: UserFactory(groups=[role, access_group]) for kind, role in _ROLES.items()},
            "superuser": UserFactory(is_superuser=True),
        }
        exports = {
            status: Export.objects.create(
                campaign=campaign,
                export_type="entries",
                parameters={"includeAllMarkets": False},
                parameters_digest=uuid.uuid4().hex,
                status=status,
                requester=users["requester"],
            )
            for status in ("PENDING", "FAILED", "FINISHED")
        }
        world = cls(campaign=campaign, access_group=access_group, users=users, exports=exports)
        for kind, user in users.items():  # real JWTs, from the real endpoint, once per user
            world.tokens[kind] = f"Bearer {_login(user)['access']}"
        world.objects = _make_objects(world)
        return world

    def export_for(self, route: Route) -> Export:
        return self.exports[_STATUS_FOR.get(route.pattern.rstrip("/").rsplit("/", 1)[-1], "FINISHED")]

    def object_for(self, app_label: str, model_name: str, route: Route) -> Any:
        """The object an admin page of this model shows (of this campaign where it has one)."""
        if (app_label, model_name) == ("exports", "export"):
            return self.export_for(route)
        label = f"{app_label}.{model_name}"
        assert label in self.objects, f"no object for {label}'s admin pages: add one to _make_objects"
        return self.objects[label]


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock(), transaction.atomic():
        yield World.create()
        transaction.set_rollback(True)


@pytest.fixture
def _clean_storage():
    """Overrides conftest's: nothing here writes a file, and emptying every bucket around each of
    these ~1100 tests would be most of their time in the S3 pass."""


def _make_objects(world: World) -> dict[str, Any]:
    from axes.models import AccessAttempt, AccessFailureLog, AccessLog
    from django_dramatiq.models import Task
    from rest_framework_simplejwt.tokens import RefreshToken

    from campaigns.models import Code, Promoter, ScoringRecord, SmsWave

    campaign, market, export = world.campaign, world.campaign.markets.get(), world.exports["FINISHED"]
    entry: Any = EntryFactory(campaign=campaign, market=market)
    outstanding, blacklisted = (RefreshToken.for_user(world.users["requester"]) for _ in range(2))
    blacklisted.blacklist()
    access = {"user_agent": "tests", "ip_address": "192.0.2.1", "username": "someone", "http_accept": "*/*"}
    message: Any = dramatiq.Message(queue_name="default", actor_name="entries", args=(), kwargs={}, options={})
    return {
        "campaigns.campaign": campaign,
        "campaigns.market": market,
        "campaigns.entry": entry,
        "campaigns.fan": entry.fan,
        "campaigns.promoter": Promoter.objects.create(name="Promoter"),
        "campaigns.code": Code.objects.create(campaign=campaign, market=market, value="CODE-1"),
        "campaigns.scoringrecord": ScoringRecord.objects.create(campaign=campaign, market=market, fan=entry.fan),
        "campaigns.smswave": SmsWave.objects.create(campaign=campaign),
        "exports.exportevent": ExportEvent.objects.create(
            export=export, export_ref=str(export.pk), campaign_id=campaign.pk, action="requested"
        ),
        "auth.user": world.users["requester"],
        "auth.group": world.access_group,
        "token_blacklist.outstandingtoken": OutstandingToken.objects.get(jti=outstanding["jti"]),
        "token_blacklist.blacklistedtoken": BlacklistedToken.objects.get(token__jti=blacklisted["jti"]),
        # bulk_create: axes' post_save hook is for its database handler, not the cache one in use.
        "axes.accessattempt": AccessAttempt.objects.bulk_create(
            [AccessAttempt(**access, path_info="/admin/login/", get_data="", post_data="", failures_since_start=1)]
        )[0],
        "axes.accesslog": AccessLog.objects.bulk_create([AccessLog(**access, path_info="/admin/login/")])[0],
        "axes.accessfailurelog": AccessFailureLog.objects.bulk_create(
            [AccessFailureLog(**access, path_info="/admin/login/")]
        )[0],
        "django_dramatiq.task": Task.tasks.create(
            id=uuid.uuid4(), message_data=message.encode(), actor_name="entries", queue_name="default"
        ),
    }


_PLACEHOLDER = re.compile(r"<(?:\w+:)?(\w+)>|\(\?P<(\w+)>[^)]*\)")


def url_for(route: Route, world: World) -> str:
    model = re.match(r"admin/(\w+)/(\w+)/", route.pattern)

    def value(match: re.Match) -> str:
        name = match.group(1) or match.group(2)
        if route.key == "admin:view_on_site":
            ct = ContentType.objects.get_for_model(world.campaign)
            return str(ct.pk if name == "content_type_id" else world.campaign.pk)
        if name in ("object_id", "id") and model:
            return str(world.object_for(model.group(1), model.group(2), route).pk)
        export_id = world.export_for(route).pk
        simple = {"campaign_id": world.campaign.pk, "export_id": export_id, "app_label": "exports"}
        simple |= {"user_id": "no-such-fan", "token": "not-a-valid-token", "url": "no-such-page/"}
        return str(simple[name])

    return "/" + _PLACEHOLDER.sub(value, route.pattern).replace("^", "").replace("$", "")


def _login(user) -> dict[str, str]:
    """Access and refresh token from the real /auth/token (as tests/conftest.py's jwt_client)."""
    response = APIClient().post("/auth/token", {"username": user.username, "password": "pw-123456"}, format="json")
    assert response.status_code == 200, response.content
    return response.json()


# --- one (route, caller): every method the route accepts --------------------------------------
def _body(route: Route, method: str, user) -> dict | None:
    if route.key == "token-obtain":
        if user is None:
            return {"username": f"nobody-{uuid.uuid4().hex[:8]}", "password": "wrong-password"}
        return {"username": user.username, "password": "pw-123456"}
    if route.key == "token-refresh":
        if user is None:
            return {"refresh": "not-a-refresh-token"}
        return {"refresh": _login(user)["refresh"]}
    if route.key == "exports:campaign-exports" and method == "POST":
        return {"exportType": "entries"}
    if route.key.endswith("_delete") and method == "POST":
        return {"post": "yes"}
    return {} if method == "POST" else None


def _client(route: Route, world: World, caller: str):
    user = world.users.get(caller)
    if route.pattern.startswith("admin/"):
        client = Client(raise_request_exception=False)  # a crash is a 500 in the matrix
        if user is not None:
            client.force_login(user)
        return client
    client = APIClient(raise_request_exception=False)
    if user is not None and route.key not in ("token-obtain", "token-refresh"):
        client.credentials(HTTP_AUTHORIZATION=world.tokens[caller])
    return client


def _observed(response) -> str:
    if response.status_code == 302 and response["Location"].startswith("/admin/login/"):
        return LOGIN
    return str(response.status_code)


def _expected(route: Route) -> dict[str, tuple[str, ...]]:
    if route.pattern.startswith("admin/"):
        return admin_rule(route.key) or {}
    return EXPECTED.get(route.key, {})


def _export_action(route: Route) -> str | None:
    match = re.fullmatch(r"admin:exports_export_(retry|cancel|expire)", route.key)
    return match.group(1) if match else None


def _action_done(action: str, export: Export, exports_before: int) -> bool:
    status = Export.objects.get(pk=export.pk).status
    return {"retry": Export.objects.count() > exports_before, "cancel": status == "CANCELLED"}.get(
        action, status == "EXPIRED"
    )


def _call(client, method: str, url: str, body: dict | None):
    send = getattr(client, method.lower())
    if body is None:
        return send(url)
    return send(url, body, format="json") if isinstance(client, APIClient) else send(url, body)


@pytest.mark.django_db
@pytest.mark.parametrize("caller", CALLERS)
@pytest.mark.parametrize("route", ROUTES, ids=[route.key for route in ROUTES])
def test_access(route: Route, caller: str, world: World):
    expected = _expected(route)
    assert expected, f"{route.key} is not classified (see test_every_route_is_classified)"
    client, user, action = _client(route, world, caller), world.users.get(caller), _export_action(route)
    wrong = []
    for method, row in expected.items():
        url, exports_before = url_for(route, world), Export.objects.count()
        response = _call(client, method, url, _body(route, method, user))
        want, got = row[CALLERS.index(caller)], _observed(response)
        if got not in want.split("/"):
            wrong.append(f"{method} {url}: {got}, expected {want}")
        if (
            action
            and method == "POST"
            and _action_done(action, world.export_for(route), exports_before) != (caller in _ACTIONS_ALLOWED_TO)
        ):
            wrong.append(
                f"{method} {url}: the {action} {'happened' if caller not in _ACTIONS_ALLOWED_TO else 'did not'}"
            )
    assert not wrong, wrong
