"""Creating export jobs (with database-enforced dedupe) and handing them to the broker."""

from __future__ import annotations

import hashlib
import json
import logging
import urllib.parse

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import IntegrityError, transaction
from django.utils import timezone

from campaigns.selectors import campaign_get_visible
from exports import notify, selectors
from exports.errors import BadRequest, CampaignNotFound, InvalidExportType, QuotaExceeded
from exports.inputs import reject_control_characters
from exports.models import Export, ExportEvent
from exports.options import OPTION_NAMES, parse_options
from exports.queue import export_enqueue
from exports.types import export_type_get
from exportsite.conf import export_settings

logger = logging.getLogger(__name__)

_CREATE_ATTEMPTS = 5


def parameters_digest(parameters: dict) -> str:
    canonical = json.dumps(parameters, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def export_request(
    *, campaign_id: object, body: dict, user, correlation_id: str = "", via: str = "api"
) -> tuple[Export, bool]:
    """Create an export job, or return the active one with the same parameters; (export, created).
    Either way the request is audited (`via` says which interface asked)."""
    export, created = _export_request(campaign_id=campaign_id, body=body, user=user, correlation_id=correlation_id)
    ExportEvent.objects.create(
        export=export,
        export_ref=str(export.pk),
        campaign_id=export.campaign_id,
        actor=user if user.is_authenticated else None,
        action=ExportEvent.Action.REQUESTED,
        detail={"via": via, "created": created},
    )
    return export, created


def _export_request(*, campaign_id: object, body: dict, user, correlation_id: str) -> tuple[Export, bool]:
    # Every string of the body at once, before any of it reaches a lookup, a log line or the
    # database (PostgreSQL refuses NUL): the types' parameters and the options need no check.
    reject_control_characters(value=body)
    export_type = export_type_get(body.get("exportType"))
    if export_type is None:
        raise InvalidExportType(body.get("exportType"))
    campaign = campaign_get_visible(campaign_id=campaign_id, user=user)
    if campaign is None:
        raise CampaignNotFound(campaign_id)
    _reject_unknown_keys(body, export_type)
    parameters = export_type.parse_parameters(body)
    parameters.update(parse_options(body=body, export_type=export_type, campaign=campaign, now=timezone.now()))
    webhook_url = _parse_webhook_url(body.get("webhookUrl"))
    export_type.check_requestable(campaign)
    digest = parameters_digest(parameters)

    # Look, then insert; the partial unique index decides races between processes. The loser
    # gets an IntegrityError and finds the winner on the next pass. A pass can also miss when the
    # winner finished in between, hence a few attempts.
    for _ in range(_CREATE_ATTEMPTS):
        existing = selectors.export_active_for(
            campaign_id=campaign.pk, export_type=export_type.key, parameters_digest=digest
        )
        if existing is not None:
            return existing, False
        _check_quota(user)
        try:
            with transaction.atomic():
                export = Export.objects.create(
                    campaign=campaign,
                    export_type=export_type.key,
                    parameters=parameters,
                    parameters_digest=digest,
                    requester=user if user.is_authenticated else None,
                    correlation_id=correlation_id,
                    webhook_url=webhook_url,
                )
                # The default binds this job's id now; mypy cannot infer a lambda with a default
                # argument against on_commit's zero-argument callable.
                transaction.on_commit(
                    lambda export_id=str(export.pk): export_enqueue(export_id=export_id, export_type=export_type.key)  # type: ignore[misc]
                )
        except IntegrityError:
            continue
        logger.info(
            "export requested",
            extra={"export_id": str(export.pk), "campaign_id": campaign.pk, "export_type": export_type.key},
        )
        return export, True
    raise RuntimeError("could not create or find the active export after several attempts")


# Keys the old clients send for any type; accepted, and used only where the type declares them.
_ORIG_KEYS = {"exportType", "dateKey", "includeAllMarkets"}


def _reject_unknown_keys(body: dict, export_type) -> None:
    known = _ORIG_KEYS | set(OPTION_NAMES) | {"webhookUrl"} | {p.name for p in export_type.parameters}
    unknown = sorted(key for key in body if key not in known)
    if unknown:
        raise BadRequest(
            "Unknown parameter(s): " + ", ".join(f"'{key}'" for key in unknown) + ".",
            f"Export type '{export_type.key}' takes: " + ", ".join(sorted(known - {"exportType"})) + ".",
        )


def _parse_webhook_url(value: object) -> str:
    if value is None or value == "":
        return ""
    if not isinstance(value, str) or len(value) > 2000:
        raise BadRequest("Invalid 'webhookUrl' value: expected an http(s) URL.", "")
    try:
        URLValidator(schemes=["http", "https"])(value)
    except ValidationError:
        raise BadRequest(
            f"Invalid 'webhookUrl' value: '{value}'.", "The 'webhookUrl' must be an http(s) URL."
        ) from None
    if not export_settings().webhook_allow_private and _names_a_private_host(value):
        raise BadRequest(f"Invalid 'webhookUrl' value: '{value}'.", "The 'webhookUrl' must point to a public address.")
    return value


def _names_a_private_host(url: str) -> bool:
    """localhost or a non-public IP literal; names that resolve privately are refused at send time."""
    host = (urllib.parse.urlsplit(url).hostname or "").rstrip(".").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return not notify.public_address(host)
    except ValueError:  # a name, not an address
        return False


def _check_quota(user) -> None:
    """A soft per-user cap on PENDING + TRIGGERED jobs (checked when a new job would be created)."""
    limit = export_settings().max_active_per_user
    if not limit or not user.is_authenticated:
        return
    active = selectors.export_active_count_for_user(user=user)
    if active >= limit:
        raise QuotaExceeded(
            "Too many active exports.",
            f"You have {active} exports pending or running; the limit is {limit}. Try again when one finishes.",
            headers={"Retry-After": "30"},
        )
