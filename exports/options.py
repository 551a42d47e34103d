"""Request options common to export types: column subset, format, compression, Excel mode and
filters. Parsed and validated at request time into the job's parameters, so they take part in
the dedupe key; relative dates are frozen into absolute timestamps then.

Only options that differ from the defaults are stored, so `{"exportType": "entries"}` and the
same request with `"format": "tsv"` are the same job.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.utils.dateparse import parse_datetime

from campaigns.models import Campaign
from exports.errors import BadRequest
from exports.types.base import CSV, TSV, FileFormat, OutputShape

OPTION_NAMES = ("columns", "format", "compression", "excel", "filters")
FILTER_NAMES = ("marketIds", "createdFrom", "createdTo")
FORMATS: dict[str, FileFormat] = {
    "csv": CSV,
    "tsv": TSV,
    "jsonl": FileFormat(extension="jsonl", content_type="application/x-ndjson; charset=utf-8", delimiter=""),
}
_RELATIVE = re.compile(r"^-(\d{1,5})([mhdw])$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


@dataclass(frozen=True)
class OutputOptions:
    columns: tuple[str, ...] | None = None
    format: str | None = None
    compression: str | None = None
    excel: bool = False
    filters: dict | None = None

    @classmethod
    def from_parameters(cls, parameters: dict) -> OutputOptions:
        return cls(
            columns=tuple(parameters["columns"]) if parameters.get("columns") else None,
            format=parameters.get("format"),
            compression=parameters.get("compression"),
            excel=bool(parameters.get("excel")),
            filters=parameters.get("filters") or None,
        )


def parse_options(*, body: dict, export_type, campaign: Campaign, now: datetime) -> dict:
    """Validated, canonical options (defaults left out); raises BadRequest naming the problem."""
    given = {name: body[name] for name in OPTION_NAMES if body.get(name) is not None}
    if not given:
        return {}
    if export_type.output is not OutputShape.SINGLE:
        names = ", ".join(f"'{name}'" for name in given)
        raise BadRequest(
            f"Option {names} is not available for export type '{export_type.key}'.",
            "Column, format, compression, Excel and filter options apply to single-file exports only.",
        )
    options: dict = {}
    if "columns" in given:
        options["columns"] = _parse_columns(given["columns"], export_type.available_headers(campaign))
    if "format" in given:
        fmt = given["format"]
        if fmt not in FORMATS:
            raise BadRequest(f"Invalid 'format' value: '{fmt}'.", "The 'format' value must be csv, tsv or jsonl.")
        if FORMATS[fmt].extension != export_type.file_format.extension or fmt == "jsonl":
            options["format"] = fmt
    if "compression" in given:
        if given["compression"] != "gzip":
            raise BadRequest(
                f"Invalid 'compression' value: '{given['compression']}'.", "The only compression is 'gzip'."
            )
        options["compression"] = "gzip"
    if "excel" in given:
        if not isinstance(given["excel"], bool):
            raise BadRequest("Invalid 'excel' value: expected a boolean.", "The 'excel' value must be true or false.")
        if given["excel"]:
            if options.get("format") == "jsonl":
                raise BadRequest("The 'excel' option applies to csv and tsv only.", "Drop 'excel' or pick csv/tsv.")
            options["excel"] = True
    if "filters" in given:
        filters = _parse_filters(given["filters"], export_type=export_type, campaign=campaign, now=now)
        if filters:
            options["filters"] = filters
    return options


def _parse_columns(value: object, available: list[str] | None) -> list[str]:
    if available is None:
        raise BadRequest("The 'columns' option is not available for this export type.", "")
    if not isinstance(value, list) or not value or not all(isinstance(item, str) for item in value):
        raise BadRequest("Invalid 'columns' value: expected a non-empty list of column names.", "")
    unknown = [name for name in value if name not in available]
    if unknown:
        raise BadRequest(
            "Unknown column(s): " + ", ".join(f"'{name}'" for name in unknown) + ".",
            "Available columns: " + ", ".join(available) + ".",
        )
    if len(set(value)) != len(value):
        raise BadRequest("Invalid 'columns' value: a column is listed twice.", "")
    return list(value)


def _parse_filters(value: object, *, export_type, campaign: Campaign, now: datetime) -> dict:
    if not isinstance(value, dict):
        raise BadRequest("Invalid 'filters' value: expected an object.", "Allowed keys: " + ", ".join(FILTER_NAMES))
    unsupported = [name for name in value if name not in export_type.supported_filters]
    if unsupported:
        raise BadRequest(
            "Unsupported filter(s) for export type '"
            + export_type.key
            + "': "
            + ", ".join(f"'{name}'" for name in unsupported)
            + ".",
            "Supported: " + (", ".join(export_type.supported_filters) or "none") + ".",
        )
    filters: dict = {}
    if value.get("marketIds") is not None:
        filters["marketIds"] = _parse_market_ids(value["marketIds"], campaign)
    for name in ("createdFrom", "createdTo"):
        if value.get(name) is not None:
            filters[name] = _parse_instant(name, value[name], now)
    if "createdFrom" in filters and "createdTo" in filters and filters["createdFrom"] >= filters["createdTo"]:
        raise BadRequest("Invalid filters: 'createdFrom' must be before 'createdTo'.", "")
    return filters


def _parse_market_ids(value: object, campaign: Campaign) -> list[int]:
    if not (
        isinstance(value, list)
        and bool(value)
        and all(isinstance(i, int) and not isinstance(i, bool) and 0 < i < 2**63 for i in value)
    ):
        raise BadRequest("Invalid 'marketIds' filter: expected a non-empty list of market ids.", "")
    known = set(campaign.markets.filter(pk__in=value).values_list("pk", flat=True))
    unknown = sorted(set(value) - known)
    if unknown:
        raise BadRequest(
            "Unknown market id(s) for this campaign: " + ", ".join(str(i) for i in unknown) + ".",
            f"Campaign {campaign.pk} has no such markets.",
        )
    return sorted(set(value))


def _parse_instant(name: str, value: object, now: datetime) -> str:
    """ISO 8601 (with offset, or taken as UTC), `now`, or relative `-15m`, `-6h`, `-7d`, `-2w`;
    always stored as an absolute UTC timestamp."""
    instant: datetime | None = None
    if isinstance(value, str):
        text = value.strip()
        relative = _RELATIVE.match(text)
        try:
            if text == "now":
                instant = now
            elif relative:
                instant = now - timedelta(**{_UNITS[relative.group(2)]: int(relative.group(1))})
            else:
                instant = parse_datetime(text)
                if instant is not None and instant.tzinfo is None:
                    instant = instant.replace(tzinfo=UTC)
            if instant is not None:
                return instant.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")
        except (OverflowError, ValueError):
            pass  # e.g. year 1 with a positive offset, or an impossible date: not an instant
    raise BadRequest(
        f"Invalid '{name}' filter: '{value}'.",
        "Use an ISO 8601 timestamp, 'now', or a relative value like '-7d', '-6h', '-30m'.",
    )


@dataclass(frozen=True)
class OutputSpec:
    """How a single-file export is written, from its type and the request's options."""

    file_format: FileFormat
    jsonl: bool
    excel: bool
    gzip: bool
    columns: tuple[str, ...] | None
    max_rows: int
    max_bytes: int

    @property
    def extension(self) -> str:
        return self.file_format.extension + (".gz" if self.gzip else "")

    @property
    def content_type(self) -> str:
        return "application/gzip" if self.gzip else self.file_format.content_type

    @property
    def resumable(self) -> bool:
        # A gzip stream's compressor state cannot be checkpointed: such jobs restart instead.
        return not self.gzip


def output_spec(export_type, parameters: dict) -> OutputSpec:
    options = OutputOptions.from_parameters(parameters)
    file_format = FORMATS[options.format] if options.format else export_type.file_format
    return OutputSpec(
        file_format=file_format,
        jsonl=options.format == "jsonl",
        excel=options.excel,
        gzip=options.compression == "gzip",
        columns=options.columns,
        max_rows=export_type.max_rows,
        max_bytes=export_type.max_bytes,
    )
