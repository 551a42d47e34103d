"""batch_boundary: the edge of the next keyset batch or file, in one statement."""

import pytest

from campaigns.models import Entry
from campaigns.selectors.paging import batch_boundary
from tests.factories import CampaignFactory, EntryFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def entry_ids() -> list[int]:
    campaign = CampaignFactory()
    entries = EntryFactory.create_batch(5, campaign=campaign)
    EntryFactory()  # another campaign's entry, never counted
    return sorted(entry.pk for entry in entries)


def _boundary(ids: list[int], *, after_id: int, upper_id: int, rows: int) -> int | None:
    queryset = Entry.objects.filter(id__in=ids)
    return batch_boundary(queryset, after_id=after_id, upper_id=upper_id, rows=rows)


def test_the_rows_th_id_or_the_upper_bound_when_fewer_are_left(entry_ids, django_assert_num_queries):
    upper = entry_ids[-1] + 100
    with django_assert_num_queries(1):
        assert _boundary(entry_ids, after_id=0, upper_id=upper, rows=2) == entry_ids[1]
    with django_assert_num_queries(1):
        assert _boundary(entry_ids, after_id=entry_ids[1], upper_id=upper, rows=3) == entry_ids[4]
    with django_assert_num_queries(1):  # fewer than asked: the range's end
        assert _boundary(entry_ids, after_id=entry_ids[1], upper_id=upper, rows=10) == upper
    with django_assert_num_queries(1):  # none left in the range
        assert _boundary(entry_ids, after_id=entry_ids[-1], upper_id=upper, rows=10) is None
    assert _boundary(entry_ids, after_id=0, upper_id=entry_ids[2], rows=10) == entry_ids[2]
    assert _boundary(entry_ids, after_id=0, upper_id=upper, rows=0) == upper


def test_a_range_walked_to_its_end_costs_no_statement(entry_ids, django_assert_num_queries):
    with django_assert_num_queries(0):
        assert _boundary(entry_ids, after_id=entry_ids[-1], upper_id=entry_ids[-1], rows=5) is None
        assert _boundary(entry_ids, after_id=entry_ids[-1] + 1, upper_id=entry_ids[-1], rows=5) is None
