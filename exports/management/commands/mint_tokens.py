"""Mint API access tokens for the load test's accounts into a file (load/run.py reads it)."""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from exports.services.load_accounts import (
    LOAD_USERNAME_PREFIX,
    MAX_LOAD_ACCOUNTS,
    NotALoadAccount,
    load_access_tokens,
    load_accounts_ensure,
)
from exportsite.conf import export_settings


def _account_count(value: str) -> int:
    count = int(value)
    if not 1 <= count <= MAX_LOAD_ACCOUNTS:
        raise argparse.ArgumentTypeError(f"{value} is not between 1 and {MAX_LOAD_ACCOUNTS}")
    return count


def _write_private(path: Path, text: str) -> None:
    """Owner-only (0600) and all at once: mkstemp makes the file 0600, and the rename means a
    reader never sees half a file, nor a symlink left at `path` redirects the write."""
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            file.write(text)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


class Command(BaseCommand):
    help = (
        f"Create (or reuse) the load test's accounts ({LOAD_USERNAME_PREFIX}0000…, Campaign Reporters "
        "without a password) and write an access token for each, with the campaigns it can see, to "
        "--output, without going through /auth/token and its login throttle. The file holds bearer "
        "credentials: it is written owner-only, and nothing is printed of it. With DJANGO_DEBUG off "
        "(production settings) it refuses to run unless given --allow-production."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--users", type=_account_count, default=200, help="Accounts (default 200).")
        parser.add_argument("--access-group", required=True, help="Auth group whose campaigns the accounts see.")
        parser.add_argument("--output", type=Path, required=True, help="JSON file to write the tokens to (0600).")
        parser.add_argument(
            "--allow-production",
            action="store_true",
            help="Run with DJANGO_DEBUG off too: only against a database made for a load test.",
        )

    def handle(self, *args, users: int, access_group: str, output: Path, allow_production: bool, **options):
        # Tokens minted in production are real credentials, signed with the real key.
        if not export_settings().debug and not allow_production:
            raise CommandError(
                "DJANGO_DEBUG is off: these would be working production credentials. "
                "Give --allow-production if this database is for a load test."
            )
        if not output.parent.is_dir():
            raise CommandError(f"The folder of --output does not exist: {output.parent}")
        try:
            accounts = load_accounts_ensure(count=users, access_group=access_group)
        except NotALoadAccount as error:
            raise CommandError(str(error)) from None
        tokens = load_access_tokens(users=accounts)
        _write_private(output, json.dumps({"tokens": tokens}, indent=1) + "\n")
        self.stdout.write(
            f"{len(tokens)} access tokens ({accounts[0].username}…{accounts[-1].username}, "
            f"valid until {tokens[0]['expires_at']}) written to {output}"
        )
