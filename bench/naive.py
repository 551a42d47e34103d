"""The naive Django baseline for bench/run.py: model instances + csv.writer into a file.

Run by bench/run.py in a process of its own (its environment names the bench database):

    python bench/naive.py --campaign ID --out FILE

`Entry.objects.filter(campaign=…).select_related("fan", "market").iterator(2000)`, one
`csv.writer` row per entry with the entries export's 17 columns + one per campaign preference,
values turned into text the obvious way (no formula guards, no careful quoting rules), in
autocommit as a view or a management command would run it. Prints one JSON line: rows, bytes,
seconds (first query to file closed, Django start-up excluded) and the process's peak RSS.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _peak_rss_kb() -> int:
    """VmHWM: this program's peak (rusage's ru_maxrss would include the parent's pages from before exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--campaign", type=int, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--chunk-size", type=int, default=2000)
    args = parser.parse_args()

    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "exportsite.settings")
    import django

    django.setup()
    from campaigns.models import Campaign, Entry

    campaign = Campaign.objects.get(pk=args.campaign)
    preference_ids = [str(preference.get("id", "")) for preference in campaign.preferences or []]
    header = [
        "id", "contest_title", "entry_date", "tm_id", "globalUserId", "ip_address", "email", "first_name",
        "last_name", "Zip Code", "Mobile Phone", "Hbase_ID", "Select Show", "Event_ID", "locale", "campaign_id",
        "Phone confirmed",
        *[f"#{p.get('type', '')}.{p.get('id', '')}" for p in campaign.preferences or []],
    ]  # fmt: skip
    started = time.perf_counter()
    rows = 0
    entries = Entry.objects.filter(campaign=campaign).select_related("fan", "market").order_by("id")
    with args.out.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, delimiter="\t", lineterminator="\n")
        writer.writerow(header)
        for entry in entries.iterator(args.chunk_size):
            fan, market = entry.fan, entry.market
            answers = entry.answers or {}
            writer.writerow(
                [
                    entry.id,
                    campaign.name,
                    entry.created_at.isoformat(),
                    fan.tm_id,
                    fan.global_user_id,
                    entry.ip_address,
                    entry.email or fan.email,
                    fan.first_name or entry.first_name,
                    fan.last_name or entry.last_name,
                    entry.ip_postal_code or fan.postal_code,
                    entry.phone or fan.phone,
                    fan.member_id,
                    f"{market.event_date or ''} {market.city}, {market.state}",
                    ",".join(str(event_id) for event_id in market.event_ids or []),
                    entry.locale,
                    entry.campaign_id,
                    "true" if entry.phone_confirmed_at is not None else "false",
                    *[answers.get(pref_id, False) for pref_id in preference_ids],
                ]
            )
            rows += 1
    seconds = time.perf_counter() - started
    result = {
        "rows": rows,
        "bytes": args.out.stat().st_size,
        "seconds": seconds,
        "peak_rss_mb": _peak_rss_kb() / 1024,
    }
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
