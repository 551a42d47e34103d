"""Fill the database with a deterministic demo dataset (see campaigns.services.demo_dataset_create)."""

import argparse
from collections.abc import Callable

from django.core.management.base import BaseCommand, CommandParser
from tqdm import tqdm

from campaigns.services import demo_dataset_create


def _int_at_least(minimum: int) -> Callable[[str], int]:
    def integer(value: str) -> int:
        if int(value) < minimum:
            raise argparse.ArgumentTypeError(f"{value} is less than {minimum}")
        return int(value)

    return integer


class Command(BaseCommand):
    help = "Create demo campaigns, fans, entries, codes, scoring records and SMS waves."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--entries", type=_int_at_least(0), required=True, help="Entries in total.")
        parser.add_argument("--campaigns", type=_int_at_least(1), default=4, help="Campaigns (default 4).")
        parser.add_argument("--seed", type=int, default=1, help="Same seed, same data (default 1).")
        parser.add_argument("--if-empty", action="store_true", help="Do nothing if any campaign exists.")
        parser.add_argument(
            "--access-group", default="Demo Campaign Staff", help="Auth group given access to the new campaigns."
        )

    def handle(self, *args, entries: int, campaigns: int, seed: int, if_empty: bool, access_group: str, **options):
        bars: list[tqdm] = []  # made on the first report, so a skipped run prints no bar

        def progress(done: int, total: int) -> None:
            if not bars:
                bars.append(tqdm(total=total, unit="rows", unit_scale=True, disable=options["verbosity"] == 0))
            bars[0].update(done - bars[0].n)

        try:
            summary = demo_dataset_create(
                campaigns=campaigns,
                entries=entries,
                seed=seed,
                access_group=access_group or None,
                only_if_empty=if_empty,
                progress=progress,
            )
        finally:
            for bar in bars:
                bar.close()
        if summary.skipped:
            self.stdout.write("Campaigns exist already; no demo data created (--if-empty).")
            return
        for name, count in summary.counts().items():
            self.stdout.write(f"{name:>20}: {count:,}")
