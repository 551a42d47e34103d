"""The API load test's traffic (locust, headless; started by load/run.py, see load/README.md).

Each simulated user holds a few of the minted accounts and takes them in turn, so a user's
requests are spread over several per-user throttle counts. It sends, with no think time (the
server's own limit is what is measured): the campaign's export list, an export's detail, the same
POST again (deduplicated: 200 with the existing job), the export types and the heartbeat.

Environment: LOAD_TOKENS (the mint_tokens file), LOAD_EXPORTS (the body load/run.py requested once
per campaign before the run, and each campaign's job) and LOAD_TALLY (where the status counts per
endpoint are written when locust quits).
"""

from __future__ import annotations

import itertools
import json
import os
from collections import Counter, defaultdict
from pathlib import Path

from locust import FastHttpUser, constant, events, task

LIST = "GET /campaigns/[id]/exports"
DETAIL = "GET /campaigns/[id]/exports/[id]"
DEDUPE = "POST /campaigns/[id]/exports (again)"
TYPES = "GET /export-types"
HEARTBEAT = "GET /heartbeat"

_accounts = json.loads(Path(os.environ["LOAD_TOKENS"]).read_text())["tokens"]
_made = json.loads(Path(os.environ["LOAD_EXPORTS"]).read_text())
_body: dict = _made["body"]
_exports: dict[str, str] = _made["jobs"]
_next_account = itertools.count()
# Per endpoint: status code ("0": no answer) → count, and every response time (ms); written to
# LOAD_TALLY when locust quits. Exact, where locust's own percentiles are rounded.
_statuses: defaultdict[str, Counter[str]] = defaultdict(Counter)
_times: defaultdict[str, list[float]] = defaultdict(list)
_failures: defaultdict[str, Counter[str]] = defaultdict(Counter)  # why a request failed → count
_span = [float("inf"), 0.0]  # first request sent, last answer received (epoch seconds)


@events.request.add_listener
def _record(name, response_time, response, start_time, exception, **kwargs) -> None:
    _statuses[name][str(getattr(response, "status_code", 0) or 0)] += 1
    if exception is not None:
        _failures[name][str(exception)[:200]] += 1
    _times[name].append(response_time)
    _span[0] = min(_span[0], start_time)
    _span[1] = max(_span[1], start_time + response_time / 1000)


@events.quitting.add_listener
def _write_tally(environment, **kwargs) -> None:
    tally = {
        "seconds": max(0.0, _span[1] - _span[0]),
        "endpoints": {
            name: {"statuses": dict(_statuses[name]), "failures": dict(_failures[name]), "times_ms": _times[name]}
            for name in _statuses
        },
    }
    Path(os.environ["LOAD_TALLY"]).write_text(json.dumps(tally))


class ApiUser(FastHttpUser):
    wait_time = constant(0)
    # The service's own timeout is 60 s; a request this slow is a failure of the run, not a data point.
    network_timeout = 30.0
    connection_timeout = 10.0

    def on_start(self) -> None:
        users = max(1, self.environment.parsed_options.num_users or 1)
        share = max(1, len(_accounts) // users)
        first = next(_next_account) * share
        numbers = [(first + offset) % len(_accounts) for offset in range(share)]
        # Account number n works on the n-th campaign it can see, as load/run.py assumed when it
        # made the jobs: the traffic is spread over every campaign.
        self._accounts = itertools.cycle(
            (_accounts[n], _accounts[n]["campaigns"][n % len(_accounts[n]["campaigns"])]) for n in numbers
        )

    def _account(self) -> tuple[dict[str, str], str]:
        account, campaign = next(self._accounts)
        return {"Authorization": f"Bearer {account['access']}"}, campaign

    def _expect(self, response, status: int, check=None) -> None:
        """`status` (or 429, counted apart) is a success; anything else fails the run."""
        if response.status_code == 429:
            response.success()
        elif response.status_code != status:
            response.failure(f"HTTP {response.status_code}, expected {status}")
        elif check is not None and not check(response.json()):
            response.failure("unexpected body")
        else:
            response.success()

    @task(3)
    def list_exports(self) -> None:
        headers, campaign = self._account()
        with self.client.get(f"/campaigns/{campaign}/exports", headers=headers, name=LIST, catch_response=True) as r:
            self._expect(r, 200, lambda body: any(item["id"] == _exports[campaign] for item in body))

    @task(3)
    def export_detail(self) -> None:
        headers, campaign = self._account()
        path = f"/campaigns/{campaign}/exports/{_exports[campaign]}"
        with self.client.get(path, headers=headers, name=DETAIL, catch_response=True) as r:
            self._expect(r, 200, lambda body: body["id"] == _exports[campaign])

    @task(2)
    def request_again(self) -> None:
        headers, campaign = self._account()
        path = f"/campaigns/{campaign}/exports"
        with self.client.post(path, json=_body, headers=headers, name=DEDUPE, catch_response=True) as r:
            # 200, never 201: the job made before the run is still active, so this is a duplicate.
            self._expect(r, 200, lambda body: body["id"] == _exports[campaign])

    @task(1)
    def export_types(self) -> None:
        headers, _ = self._account()
        with self.client.get("/export-types", headers=headers, name=TYPES, catch_response=True) as r:
            self._expect(r, 200, lambda body: len(body) > 0)

    @task(1)
    def heartbeat(self) -> None:
        with self.client.get("/heartbeat", name=HEARTBEAT, catch_response=True) as r:
            self._expect(r, 200, lambda body: body["status"] == "ok")
