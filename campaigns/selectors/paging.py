"""The keyset pager the export reads share: `id > last ORDER BY id LIMIT n`, one page at a time."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from django.db.models import QuerySet


def keyset_pages(queryset: QuerySet, *, fields: Sequence[str], page_size: int, after_id: int = 0) -> Iterator[list]:
    """Pages (lists of named rows) of `queryset` in id order, starting after `after_id`.

    Each page is its own short query, so no transaction or cursor stays open between pages;
    `fields` must include "id".
    """
    last_id = after_id
    while True:
        page = list(queryset.filter(id__gt=last_id).order_by("id").values_list(*fields, named=True)[:page_size])
        if not page:
            return
        yield page
        if len(page) < page_size:
            return
        last_id = page[-1].id
