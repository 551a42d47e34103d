"""Pure formatting and streaming pieces: the formula guard, value formats, writer, part uploader."""

import csv
import io
from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from exports.columns import format_answer, format_select_show, format_timestamp, guard_formula
from exports.storage import MultipartUpload, UploadedPart
from exports.writers import DelimitedWriter, PartUploader


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("=1+1", "'=1+1"),
        ("+cmd", "'+cmd"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tTAB", "'\tTAB"),
        ("\rCR", "'\rCR"),
        ("-73.98", "-73.98"),
        ("+15551234567", "+15551234567"),
        ("1e5", "1e5"),
        ("+1 (555) 010", "'+1 (555) 010"),
        ("a=b", "a=b"),
        ("", ""),
        ("Zoë", "Zoë"),
        ("-5\n", "'-5\n"),
    ],
)
def test_formula_guard(raw, expected):
    assert guard_formula(raw) == expected


def test_timestamps_are_utc_iso_with_milliseconds():
    value = datetime(2026, 5, 6, 7, 8, 9, 987654, tzinfo=timezone(timedelta(hours=2)))
    assert format_timestamp(value) == "2026-05-06T05:08:09.987Z"
    assert format_timestamp(datetime(2026, 1, 1, tzinfo=UTC)) == "2026-01-01T00:00:00.000Z"
    assert format_timestamp(None) == ""


def test_answers_and_select_show():
    answers = [None, True, False, 3, 2.5, ["a", "=b"], ["=a", "b"], "=x", {"bb": 1, "a": "x", "c": [1, {}]}]
    assert [format_answer(v) for v in answers] == [
        "false",
        "true",
        "false",
        "3",
        "2.5",
        "a,=b",
        "'=a,b",
        "'=x",
        '{"a": "x", "c": [1, {}], "bb": 1}',
    ]
    assert format_select_show(date(2027, 1, 5), "Austin", "TX") == "1/05 - Austin, TX"
    assert format_select_show(date(2027, 11, 25), "Zürich", "") == "11/25 - Zürich"
    assert format_select_show(None, "Paris", "") == "Paris"


class _MemoryUpload(MultipartUpload):
    def __init__(self):
        super().__init__(key="k")
        self.parts: dict[int, bytes] = {}
        self.completed = False

    def start(self):
        self.upload_id = "u"
        return self.upload_id

    def write_part(self, number, data):
        self.parts[number] = data
        return UploadedPart(number=number, etag=str(number), size=len(data))

    def complete(self, parts):
        self.completed = True

    def abort(self):
        self.parts.clear()

    def is_open(self):
        return not self.completed


def test_part_uploader_cuts_parts_at_write_boundaries_and_hashes_the_whole():
    import hashlib

    upload = _MemoryUpload()
    seen = []
    uploader = PartUploader(upload, part_size=10, on_part=lambda part, mark: seen.append(part))
    for chunk in (b"abc", b"defghijklmnop", b"qrstuvwxyz0123"):
        uploader.write(chunk)
    parts = uploader.close()
    assert [p.size for p in parts] == [16, 14]  # a part ends where a write ended
    assert b"".join(upload.parts[n] for n in sorted(upload.parts)) == b"abcdefghijklmnopqrstuvwxyz0123"
    assert uploader.sha256 == hashlib.sha256(b"abcdefghijklmnopqrstuvwxyz0123").hexdigest()
    assert len(seen) == 2


def test_empty_output_still_uploads_one_part():
    upload = _MemoryUpload()
    parts = PartUploader(upload, part_size=10).close()
    assert len(parts) == 1 and parts[0].size == 0


def test_tsv_writer_round_trips_awkward_cells():
    sink = io.BytesIO()
    writer = DelimitedWriter(sink, delimiter="\t", flush_chars=16)
    rows = [["a\tb", 'say "hi"', "line\nbreak", "cr\rx", "ü山"], ["", "plain", ",", ";", "'=x"]]
    writer.write_header(["h1", "h2", "h3", "h4", "h5"])
    for row in rows:
        writer.write_row(row)
    writer.close()
    parsed = list(csv.reader(io.StringIO(sink.getvalue().decode("utf-8"), newline=""), delimiter="\t"))
    assert parsed == [["h1", "h2", "h3", "h4", "h5"], *rows]
    assert writer.rows == 2
