"""The request body the bench sends for each export type: required parameters chosen from the
campaign's data, or TypeSkipped saying why the dataset cannot serve the type."""

from __future__ import annotations

from collections.abc import Callable

from bench.limit_sql import TypeSkipped

# --- the request ----------------------------------------------------------------------------------


def most_common_wave(campaign_id: int) -> str:
    """codeWaves' dateKey: the wave most of the campaign's codes are in."""
    from django.db.models import Count

    from campaigns.models import Code

    row = (
        Code.objects.filter(campaign_id=campaign_id)
        .exclude(date_key="")
        .values("date_key")
        .annotate(n=Count("id"))
        .order_by("-n", "date_key")
        .first()
    )
    if row is None:
        raise TypeSkipped("the campaign's codes have no wave (dateKey)")
    return row["date_key"]


# Values for the required parameters the bench knows how to choose.
REQUIRED_VALUES: dict[str, Callable[[int], object]] = {"dateKey": most_common_wave}


def type_request(key: str, campaign_id: int) -> dict:
    """The request body of one export type on this campaign: its required parameters chosen from
    the data; TypeSkipped when a parameter cannot be chosen or the campaign cannot have it."""
    from campaigns.models import Campaign
    from exports.errors import ApiError
    from exports.types import EXPORT_TYPES

    export_type = EXPORT_TYPES[key]
    body: dict = {"exportType": key}
    for parameter in export_type.parameters:
        if not parameter.required:
            continue
        if parameter.name not in REQUIRED_VALUES:
            raise TypeSkipped(f"needs the parameter {parameter.name!r}, which the bench cannot choose")
        body[parameter.name] = REQUIRED_VALUES[parameter.name](campaign_id)
    try:
        export_type.parse_parameters(body)
        export_type.check_requestable(Campaign.objects.get(pk=campaign_id))
    except ApiError as exc:
        raise TypeSkipped(f"not requestable: {exc.message}") from exc
    return body
