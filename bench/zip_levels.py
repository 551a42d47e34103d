"""What deflate costs at each level, measured on a real ZIP export's members (the sweep's first
reminderEmail file): for each level, the CPU seconds to compress every member and the bytes out.
The members are read back once (decompressed into memory: the bench's ZIPs are tens of MB) and
compressed in 1 MiB writes, as zipfile does when the export streams into it."""

from __future__ import annotations

import time
import zipfile
import zlib
from pathlib import Path

CHUNK = 1 << 20


def deflate_levels(path: Path, levels: range = range(0, 10)) -> dict:
    with zipfile.ZipFile(path) as archive:
        members = [archive.read(info) for info in archive.infolist()]
    raw = sum(len(member) for member in members)
    by_level = {}
    for level in levels:
        out = 0
        started = time.process_time()
        for member in members:
            compressor = zlib.compressobj(level, zlib.DEFLATED, -15)
            for start in range(0, len(member), CHUNK):
                out += len(compressor.compress(member[start : start + CHUNK]))
            out += len(compressor.flush())
        seconds = time.process_time() - started
        by_level[str(level)] = {
            "cpu_seconds": round(seconds, 3),
            "mb_per_s_in": round(raw / 1e6 / seconds, 1) if seconds else None,
            "bytes_out": out,
            "ratio": round(out / raw, 4) if raw else None,
        }
    return {"members": len(members), "raw_bytes": raw, "levels": by_level}
