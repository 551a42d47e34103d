"""BatchPlan: how many records each fast-path batch asks its boundary for. Boundaries count every
record of the campaign, so a filtered type's batches are scaled by the rows per record seen."""

from exports.engine.copy import _MAX_BATCH_RECORDS, BatchPlan
from exports.engine.copy.rows import Chunk
from exports.types.base import CopyQuery, CopySource


class _Keys:
    """A boundary over keys 1..N: records the sizes it was asked for."""

    def __init__(self, last: int):
        self.last, self.asked = last, list[int]()

    def __call__(self, after_id: int, rows: int) -> int | None:
        self.asked.append(rows)
        return None if after_id >= self.last else min(self.last, after_id + rows)


def _plan(last: int = 10_000_000, target: int = 1_000_000) -> tuple[BatchPlan, _Keys]:
    keys = _Keys(last)

    def no_cells(after_id: int, upper_id: int) -> CopyQuery:
        raise AssertionError("a plan never reads cells")

    return BatchPlan(CopySource(cells=no_cells, boundary=keys), target_bytes=target), keys


def _finish(plan: BatchPlan, rows: int, bytes_per_row: int = 100) -> None:
    plan.observe(Chunk(b"x" * (rows * bytes_per_row), rows, 0))
    plan.batch_done()


def test_an_unfiltered_type_asks_for_the_rows_that_fill_the_target():
    plan, keys = _plan()
    assert plan.next_bounds() == (0, 200)
    _finish(plan, rows=200)  # every record a row of 100 bytes
    assert plan.next_bounds() == (200, 10_200)
    assert keys.asked == [200, 10_000]  # 1 MB / 100 bytes


def test_a_filtered_type_asks_for_records_in_proportion_to_the_rows_they_gave():
    plan, keys = _plan()
    plan.next_bounds()
    _finish(plan, rows=50)  # a quarter of the records kept
    plan.next_bounds()
    assert keys.asked == [200, 40_000]  # 10,000 rows wanted / 0.25 rows per record
    _finish(plan, rows=10_000)
    plan.next_bounds()
    assert keys.asked[-1] == 40_000


def test_batches_in_flight_count_only_once_they_are_done():
    plan, keys = _plan()
    plan.next_bounds()
    plan.next_bounds()  # a second batch asked for before the first one ended: no share known yet
    assert keys.asked == [200, 200]
    _finish(plan, rows=100)
    _finish(plan, rows=100)
    plan.next_bounds()
    assert keys.asked[-1] == 20_000  # 10,000 rows of 100 bytes wanted, half the records kept


def test_a_filter_that_kept_nothing_yet_walks_further_each_batch_up_to_the_cap():
    plan, keys = _plan(last=100_000_000)
    plan.next_bounds()
    _finish(plan, rows=0)
    plan.next_bounds()
    _finish(plan, rows=0)
    plan.next_bounds()
    assert keys.asked[0] == 200
    assert keys.asked[1] > keys.asked[0]
    assert keys.asked[2] == _MAX_BATCH_RECORDS
