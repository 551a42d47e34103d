"""What an export type declares, and the context a running export hands to it."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, ClassVar

from django.db.models import QuerySet
from django.utils.text import get_valid_filename

from campaigns.models import Campaign
from exports.columns import Column
from exports.errors import BadRequest


@dataclass(frozen=True)
class FileFormat:
    extension: str
    content_type: str
    delimiter: str = ","


TSV = FileFormat(extension="tsv", content_type="text/tab-separated-values; charset=utf-8", delimiter="\t")
TXT_TAB = FileFormat(extension="txt", content_type="text/plain; charset=utf-8", delimiter="\t")
CSV = FileFormat(extension="csv", content_type="text/csv; charset=utf-8", delimiter=",")


@dataclass(frozen=True)
class Parameter:
    """A request parameter of an export type (API name, JSON type, whether required)."""

    name: str
    type: str
    required: bool
    description: str
    default: Any = None

    def describe(self) -> dict:
        return {"name": self.name, "type": self.type, "required": self.required, "description": self.description}


def parse_boolean_parameter(body: dict, name: str, default: bool = False) -> bool:
    value = body.get(name, default)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise BadRequest(
            f"Invalid '{name}' value: expected a boolean, got {type(value).__name__}.",
            f"The '{name}' value must be true or false.",
        )
    return value


class OutputShape(StrEnum):
    """What a run writes: one delimited file (resumable), one ZIP of delimited members, or
    several delimited objects (one storage key each)."""

    SINGLE = "single"
    ZIP = "zip"
    MULTI = "multi"


@dataclass(frozen=True)
class OutputFile:
    """One file of a ZIP or multi-file export: its name (ZIP member path, or the storage key of a
    multi-file export's object), its columns and its records; `copy` when the fast path can
    write the same rows (every column then has its SQL twin)."""

    name: str
    columns: Sequence[Column]
    records: Iterable[Any]
    copy: CopySource | None = None


@dataclass(frozen=True)
class CopyQuery:
    """A queryset of formatted cells; `select`/`order_by` wrap it when it carries extra sort
    columns (e.g. a UNION that must be ordered by key and then by market)."""

    queryset: QuerySet
    select: tuple[str, ...] = ()
    order_by: tuple[str, ...] = ()


@dataclass(frozen=True)
class CopySource:
    """Where the PostgreSQL fast path reads one file's rows: `cells(after_id, upper_id)` gives the
    formatted cells of the records with after_id < key <= upper_id in key order (a CopyQuery),
    `boundary(after_id, rows)` the key closing the next batch of about `rows` records (None when
    no record is left), starting after `after_id`."""

    cells: Callable[[int, int], CopyQuery]
    boundary: Callable[[int, int], int | None]
    after_id: int = 0


def copy_cells(queryset: QuerySet, columns: Sequence[Column]) -> CopyQuery:
    """The fast path's query for one row per record of `queryset`: each column's SQL twin as
    `c0`, `c1`… in key (id) order."""
    names = [f"c{index}" for index in range(len(columns))]
    cells = queryset.annotate(**{name: column.sql_for("") for name, column in zip(names, columns, strict=True)})
    return CopyQuery(cells.order_by("id").values_list(*names))


@dataclass
class ExportContext:
    """Everything a running export needs besides the database: fixed at the job's start."""

    export_id: str
    campaign: Campaign
    parameters: dict
    snapshot: dict
    page_size: int
    started_at: datetime
    # Key of the last record already uploaded when a run resumes from a checkpoint.
    resume_after: Any = None
    cache: dict = field(default_factory=dict)


class ExportType:
    """Base of every export type. A type = one module subclassing this + one registry line."""

    key: ClassVar[str]
    label: ClassVar[str]
    description: ClassVar[str] = ""
    parameters: ClassVar[tuple[Parameter, ...]] = ()
    file_format: ClassVar[FileFormat] = CSV
    storage_alias: ClassVar[str] = "exports"
    acl: ClassVar[str] = "private"
    time_limit_seconds: ClassVar[int | None] = None  # None: settings default
    output: ClassVar[OutputShape] = OutputShape.SINGLE
    # Kept when a fan asks for CCPA deletion (orig: verifiedEntries, scoring, autoReminderEmail).
    ccpa_exempt: ClassVar[bool] = False
    # Header of the column holding each record's key (the COPY fast path reads keys from it).
    key_header: ClassVar[str | None] = None
    # Request filters this type understands (see exports/options.py).
    supported_filters: ClassVar[tuple[str, ...]] = ()
    # Hard caps: a job over them fails with a clear message (never a truncated file).
    max_rows: ClassVar[int] = 50_000_000
    max_bytes: ClassVar[int] = 45 * 1024**3  # under 10,000 parts of 5 MiB (S3's part limit)

    @property
    def actor_name(self) -> str:
        return f"export_{self.key}"

    @property
    def queue_name(self) -> str:
        return f"exports.{self.key}"

    # --- request time -------------------------------------------------------------------
    def parse_parameters(self, body: dict) -> dict:
        """Validate the request body; return the canonical parameters (defaults filled in)."""
        return {}

    def check_requestable(self, campaign: Campaign) -> None:
        """Raise an ApiError if this campaign cannot have this export at all."""

    # --- run time -----------------------------------------------------------------------
    def snapshot(self, campaign: Campaign) -> dict:
        """Upper bounds fixed when the job starts."""
        return {}

    def prepare(self, ctx: ExportContext) -> None:
        """Load small lookups into ctx.cache; raise ExportFailure for data problems."""

    def columns(self, ctx: ExportContext) -> Sequence[Column]:
        raise NotImplementedError

    def records(self, ctx: ExportContext) -> Iterator[Any]:
        """Single-file types: records in a stable order, each with a `key` that orders them;
        start after `ctx.resume_after` when it is set."""
        raise NotImplementedError

    def files(self, ctx: ExportContext) -> Iterator[OutputFile]:
        """ZIP and multi-file types: the files, in order, each streamed in turn."""
        raise NotImplementedError

    def estimate(self, ctx: ExportContext) -> int:
        return 0

    # --- optional: the PostgreSQL fast path (exports/engine/copy) -------------------------
    # True for types whose every column has a SQL twin and that implement the two hooks below.
    has_copy_path: ClassVar[bool] = False

    def copy_queryset(
        self, ctx: ExportContext, columns: Sequence[Column], *, after_id: int, upper_id: int
    ) -> CopyQuery | None:
        """The formatted cells of the records with after_id < key <= upper_id, in key order."""
        return None

    def copy_boundary(self, ctx: ExportContext, *, after_id: int, rows: int) -> int | None:
        """The key closing the next batch of about `rows` records after `after_id`; None when done."""
        return None

    # --- naming -------------------------------------------------------------------------
    def file_name(self, *, campaign: Campaign, created_at: datetime, extension: str | None = None) -> str:
        stem = get_valid_filename(campaign.name.replace(" ", "_")) or "campaign"
        stamp = created_at.strftime("%Y%m%d_%H%M%S")
        return f"{stem}_{campaign.pk}_{self.key}_{stamp}.{extension or self.file_extension}"

    @property
    def file_extension(self) -> str:
        return "zip" if self.output is OutputShape.ZIP else self.file_format.extension

    @property
    def content_type(self) -> str:
        return "application/zip" if self.output is OutputShape.ZIP else self.file_format.content_type

    def storage_key(
        self, *, campaign: Campaign, export_id: str, created_at: datetime, extension: str | None = None
    ) -> str:
        name = self.file_name(campaign=campaign, created_at=created_at, extension=extension)
        return f"{self.key}/{campaign.pk}/{export_id}/{name}"

    @property
    def own_key_prefix(self) -> str | None:
        """The key prefix of this type's objects (see `storage_key`), which nothing else uses; None
        when the objects are named by their consumer instead (multi-object types: SFMC's shared
        folders), so that only the keys its jobs recorded are exportsite's."""
        return None if self.output is OutputShape.MULTI else f"{self.key}/"

    def available_headers(self, campaign: Campaign) -> list[str] | None:
        """Every column header this campaign's file would have (for the `columns` option);
        None when the type cannot choose columns."""
        if self.output is not OutputShape.SINGLE:
            return None
        ctx = ExportContext(
            export_id="", campaign=campaign, parameters={}, snapshot={}, page_size=1, started_at=datetime.now()
        )
        try:
            return [column.header for column in self.columns(ctx)]
        except (KeyError, NotImplementedError):
            return None

    def header_names(self) -> list[str]:
        """The column headers clients can expect (campaign-dependent columns described in words)."""
        return []

    def describe(self) -> dict:
        """The public description served by GET /export-types."""
        return {
            "key": self.key,
            "label": self.label,
            "description": self.description,
            "parameters": [parameter.describe() for parameter in self.parameters],
            "format": self.file_extension,
            "output": self.output.value,
            "storage": self.storage_alias,
            "columns": self.header_names(),
            "filters": list(self.supported_filters),
            "options": ["columns", "format", "compression", "excel", "filters"]
            if self.output is OutputShape.SINGLE
            else [],
            "limits": {"maxRows": self.max_rows, "maxBytes": self.max_bytes},
        }
