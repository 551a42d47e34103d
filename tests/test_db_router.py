"""The database router: a running export's campaign reads go where the run chose (a replica once
it caught up); the job table and every write stay on "default"."""

from campaigns.models import Entry, Market
from exports.models import Export
from exportsite.db_router import ExportReadRouter, export_reads_alias, export_reads_from


def test_campaign_reads_follow_the_run_and_nothing_else_does():
    router = ExportReadRouter()
    assert router.db_for_read(Entry) is None and export_reads_alias() == "default"
    with export_reads_from("replica"):
        assert router.db_for_read(Entry) == router.db_for_read(Market) == "replica"
        assert router.db_for_read(Export) is None  # the job table: the primary's
        assert router.db_for_write(Entry) == router.db_for_write(Export) == "default"
        assert export_reads_alias() == "replica"
    assert router.db_for_read(Entry) is None and export_reads_alias() == "default"


def test_only_the_primary_is_migrated():
    router = ExportReadRouter()
    assert router.allow_migrate("default", "campaigns") and not router.allow_migrate("replica", "campaigns")
