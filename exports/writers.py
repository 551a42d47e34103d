"""Streaming writers: rows in, bytes out to a sink, in bounded chunks. No database access."""

from __future__ import annotations

import csv
import io
import json
import zlib
from typing import Protocol


class ByteSink(Protocol):
    def write(self, data: bytes) -> int: ...


class DelimitedWriter:
    """CSV/TSV rows, flushed to the sink every `flush_chars` characters.

    Quoting is minimal: a cell is quoted when it contains the delimiter, a quote, CR or LF.
    csv.writer (C speed) does the work; it does not quote a bare CR when the line terminator is
    LF, so a flushed chunk that contains any CR (rare: only user data can) is rendered again
    row by row with the careful quoting below. Files round-trip through Python's csv module.
    """

    def __init__(self, sink: ByteSink, *, delimiter: str, line_terminator: str = "\n", flush_chars: int = 256 * 1024):
        self._sink = sink
        self._buffer = io.StringIO()
        self._writer = csv.writer(
            self._buffer, delimiter=delimiter, lineterminator=line_terminator, quoting=csv.QUOTE_MINIMAL
        )
        self._delimiter = delimiter
        self._line_terminator = line_terminator
        self._special = (delimiter, '"', "\r", "\n")
        self._flush_chars = flush_chars
        self._chunk_rows: list[list[str]] = []

    def write_header(self, header: list[str]) -> None:
        self._writer.writerow(header)
        self._chunk_rows.append(header)

    def write_row(self, row: list[str]) -> None:
        """One row, no automatic flush: the caller flushes at boundaries it chooses."""
        self._writer.writerow(row)
        self._chunk_rows.append(row)

    @property
    def pending_chars(self) -> int:
        return self._buffer.tell()

    def discard_pending(self) -> None:
        """Drop what is buffered (a resumed file's header, already uploaded)."""
        self._buffer.seek(0)
        self._buffer.truncate(0)
        self._chunk_rows = []

    def flush(self) -> None:
        text = self._buffer.getvalue()
        if "\r" in text and self._line_terminator == "\n":
            text = "".join(self._careful_line(row) for row in self._chunk_rows)
        if text:
            self._sink.write(text.encode("utf-8"))
        self._buffer.seek(0)
        self._buffer.truncate(0)
        self._chunk_rows = []

    def _careful_line(self, row: list[str]) -> str:
        cells = [
            '"' + cell.replace('"', '""') + '"' if any(ch in cell for ch in self._special) else cell for cell in row
        ]
        return self._delimiter.join(cells) + self._line_terminator

    def close(self) -> None:
        self.flush()


class JsonLinesWriter:
    """One JSON object per row (header names as keys), same interface as DelimitedWriter."""

    def __init__(self, sink: ByteSink, *, flush_chars: int = 256 * 1024):
        self._sink = sink
        self._parts: list[str] = []
        self._pending = 0
        self._headers: list[str] = []
        self._flush_chars = flush_chars

    def write_header(self, header: list[str]) -> None:
        self._headers = list(header)

    def write_row(self, row: list[str]) -> None:
        line = json.dumps(dict(zip(self._headers, row, strict=True)), ensure_ascii=False) + "\n"
        self._parts.append(line)
        self._pending += len(line)

    @property
    def pending_chars(self) -> int:
        return self._pending

    def flush(self) -> None:
        if self._parts:
            self._sink.write("".join(self._parts).encode("utf-8"))
            self._parts.clear()
            self._pending = 0

    def close(self) -> None:
        self.flush()


class GzipSink:
    """gzip-compresses everything written through it into the next sink (zlib, C speed)."""

    def __init__(self, sink: ByteSink, *, level: int = 6):
        self._sink = sink
        self._compressor = zlib.compressobj(level, zlib.DEFLATED, 31)

    def write(self, data: bytes) -> int:
        compressed = self._compressor.compress(data)
        if compressed:
            self._sink.write(compressed)
        return len(data)

    def close(self) -> None:
        self._sink.write(self._compressor.flush())
