"""The keyset reads the exports share: pages (`id > last ORDER BY id LIMIT n`, one at a time) and
the bounds of the COPY fast path's batches."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from django.db.models import Count, Max, QuerySet

from exportsite import tracing


def keyset_pages(queryset: QuerySet, *, fields: Sequence[str], page_size: int, after_id: int = 0) -> Iterator[list]:
    """Pages (lists of named rows) of `queryset` in id order, starting after `after_id`.

    Each page is its own short query, so no transaction or cursor stays open between pages;
    `fields` must include "id".
    """
    last_id = after_id
    while True:
        with tracing.span("export.page", after__id=last_id):  # a no-op unless tracing is on
            page = list(queryset.filter(id__gt=last_id).order_by("id").values_list(*fields, named=True)[:page_size])
        if not page:
            return
        yield page
        if len(page) < page_size:
            return
        last_id = page[-1].id


def batch_boundary(queryset: QuerySet, *, after_id: int, upper_id: int, rows: int) -> int | None:
    """The id of the `rows`-th row of `queryset` after `after_id` (or `upper_id` when fewer are
    left); None when none is left. An index-only walk when `queryset` filters on its index."""
    if after_id >= upper_id:  # a range already walked to its end: no query
        return None
    ids = queryset.filter(id__gt=after_id, id__lte=upper_id).order_by("id").values_list("id", flat=True)
    if rows < 1:
        return upper_id if ids.exists() else None
    # One statement: the last id and the number of the next `rows` ids (a LIMIT in a subquery).
    walked = ids[:rows].aggregate(last=Max("id"), found=Count("id"))
    if not walked["found"]:
        return None
    return walked["last"] if walked["found"] == rows else upper_id
