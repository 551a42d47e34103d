"""Pure formatting and streaming pieces: the formula guard, value formats, writer, part uploader."""

import csv
import io
import unicodedata
from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from exports import storage
from exports.columns import (
    FIRST_TO_CHECK,
    format_answer,
    format_select_show,
    format_timestamp,
    guard_formula,
    needs_formula_guard,
)
from exports.engine.uploader import PartUploader, StreamedPartUploader, part_uploader
from exports.storage import MultipartUpload, PartStream, UploadedPart
from exports.writers import DelimitedWriter


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
        # Full-width and other compatibility forms: decided on the NFKC text, written as stored.
        ("＝cmd", "'＝cmd"),
        ("－x", "'－x"),
        ("＠SUM", "'＠SUM"),
        ("﹦1", "'﹦1"),
        ("＋1", "＋1"),
        ("＋１２３", "＋１２３"),
        ("-５", "-５"),
        ("⁺1", "⁺1"),
        # Leading whitespace and invisible characters do not hide a trigger.
        (" =cmd", "' =cmd"),
        ("\u200b=cmd", "'\u200b=cmd"),
        ("\ufeff+x", "'\ufeff+x"),
        ("\u3000@x", "'\u3000@x"),
        ("\n=x", "'\n=x"),
        ("\u00a0\t1", "'\u00a0\t1"),
        ("\u2060\u200d-x", "'\u2060\u200d-x"),
        (" -5", " -5"),
        ("\u200b+15551234567", "\u200b+15551234567"),
        # NFKC composes `=` + U+0338 into `≠`, but a spreadsheet sees the `=`.
        ("=\u0338x", "'=\u0338x"),
        (" ", " "),
        ("\u200b", "\u200b"),
        (" a=b", " a=b"),
        ("ébène", "ébène"),
        ("山田", "山田"),
    ],
)
def test_formula_guard(raw, expected):
    assert guard_formula(raw) == expected


def test_first_characters_to_check_are_those_that_can_start_a_trigger():
    """guard_formula (and its SQL twin) settle a cell whose first character is outside
    FIRST_TO_CHECK without normalising it; this is the list that makes that exact."""
    characters = [chr(c) for c in range(1, 0x110000) if not 0xD800 <= c <= 0xDFFF]
    assert {c for c in characters if needs_formula_guard(c + "=x")} == FIRST_TO_CHECK


def test_no_combining_mark_turns_a_settled_first_character_into_a_trigger():
    # NFKC composes a first character with the marks after it; for a settled one the result
    # is a letter or symbol (`e` + U+0301 = `é`, `<` + U+0338 = `≮`). `≠` is the one settled
    # character whose decomposition starts with a trigger (`=` + U+0338).
    marks = [chr(c) for c in range(0x80, 0x110000) if unicodedata.category(chr(c)).startswith("M")]
    settled = [chr(c) for c in range(1, 0x80) if chr(c) not in FIRST_TO_CHECK] + ["≠"]
    assert [first + mark for first in settled for mark in marks if needs_formula_guard(first + mark + "=x")] == []


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
        self.parts[number] = bytes(data)
        return UploadedPart(number=number, etag=str(number), size=len(data))

    def complete(self, parts):
        self.completed = True

    def abort(self):
        self.parts.clear()

    def is_open(self):
        return not self.completed


class _StreamedMemoryUpload(_MemoryUpload):
    streams_parts = True

    def part_stream(self, number):
        upload = self

        class _Part(PartStream):
            def __init__(self):
                self.data = bytearray()

            def write(self, data):
                self.data += data

            def finish(self):
                return upload.write_part(number, self.data)

            def close(self):
                pass

        return _Part()


@pytest.mark.parametrize(
    ("upload_kind", "in_flight"),
    [(_MemoryUpload, 1), (_MemoryUpload, 2), (_StreamedMemoryUpload, None)],
    ids=["whole-parts-one-in-flight", "whole-parts-two-in-flight", "streamed-parts"],
)
def test_part_uploader_cuts_parts_at_write_boundaries_and_hashes_the_whole(upload_kind, in_flight):
    import hashlib

    upload = upload_kind()
    seen = []
    on_part = lambda part, mark: seen.append((part.number, mark))  # noqa: E731
    if in_flight is None:
        uploader = part_uploader(upload, part_size=10, on_part=on_part)
        assert isinstance(uploader, StreamedPartUploader)
    else:
        uploader = PartUploader(upload, part_size=10, on_part=on_part, in_flight=in_flight)
    for mark, chunk in enumerate((b"abc", b"defghijklmnop", b"qrstuvwxyz0123", b"45")):
        uploader.boundary(mark)
        uploader.write(chunk)
    parts = uploader.close()
    assert [p.size for p in parts] == [16, 14, 2]  # a part ends where a write ended
    assert b"".join(upload.parts[n] for n in sorted(upload.parts)) == b"abcdefghijklmnopqrstuvwxyz012345"
    assert uploader.sha256 == hashlib.sha256(b"abcdefghijklmnopqrstuvwxyz012345").hexdigest()
    assert seen == [(1, 1), (2, 2), (3, 3)]  # in order, each with the mark of its last write


def test_a_streamed_part_that_fails_is_raised_in_the_writers_thread_and_nothing_more_is_written():
    class _Failing(_StreamedMemoryUpload):
        def write_part(self, number, data):
            if number == 2:
                raise OSError("disk full")
            return super().write_part(number, data)

    upload = _Failing()
    uploader = part_uploader(upload, part_size=4)
    with pytest.raises(OSError, match="disk full"):
        for _ in range(100):
            uploader.write(b"12345")
        uploader.close()
    uploader.discard()
    assert sorted(upload.parts) == [1]


def test_a_local_upload_streams_its_parts_and_resumes_after_the_last_one_kept(settings, tmp_path):
    from django.core.files.storage import FileSystemStorage

    local = storage.FilesystemMultipartUpload(FileSystemStorage(location=tmp_path), key="k/file.csv")
    local.start()
    first = part_uploader(local, part_size=4)
    for data in (b"aaaa", b"bbbb", b"cc-from-a-crashed-attempt"):
        first.write(data)
    first.discard()  # the attempt died: its third part was never ended
    resumed = part_uploader(local, part_size=4, parts=[storage.UploadedPart(1, "1-4", 4)])
    resumed.write(b"BBBB")
    resumed.write(bytearray(b"cc"))
    parts = resumed.close()
    local.complete(parts)
    assert (tmp_path / "k" / "file.csv").read_bytes() == b"aaaaBBBBcc"
    assert [p.number for p in parts] == [1, 2, 3]


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
