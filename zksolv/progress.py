"""Progress for long jobs: a rich bar on a terminal, plain periodic lines in a log, JSON lines
for pipelines.

Every long job reports zksolv.events events (dicts with "event"); `step` (message) comes from
setup, audit-setup and the demo. Events of `zksolv.prove.prove`:
  committed  root, capacity, accounts, batches
  batch      index, of, resumed, done (batches finished, resumed ones included); when proved now
             also seconds, cpu_seconds (this batch), accounts (the batch's real accounts, padding
             not counted), slots (batch size), worker (host:pid), worker_cpu_seconds (that worker
             process so far), worker_peak_rss_mb, accounts_per_s (real accounts), eta_s
  proving    batches (to prove now), resumed, prover, executor
  retry      index, attempt, reason (a worker failed or died; the batch is proved again)
  done       ok, bundle, root, accounts, capacity, batches, batch_size, proved, inclusion,
             seconds, warnings: the whole result, always the last event
Events of `zksolv.verify.verify_bundle` (the proof checks):
  verifying  backend, batches
  verified   backend, index, ok, done, of
docs/schemas/events.schema.json has the schema of every one; under `--json` a failure ends the
stream with the error document instead of `done` (docs/JSON.md).

When stderr is not a terminal (a log, CI, a pipe), a bar would be drawn once at the end, so the
same events become plain lines instead, at most one per ZKSOLV_PROGRESS_INTERVAL seconds (default
10) besides the first and the last.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from .events import Event, EventSink, ignore


def _eta(seconds: float | None) -> str:
    if seconds is None:
        return "ETA -:--:--"
    seconds = int(round(seconds))
    return f"ETA {seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


def progress_interval() -> float:
    """Seconds between two plain progress lines (ZKSOLV_PROGRESS_INTERVAL, default 10)."""
    try:
        return max(0.0, float(os.environ.get("ZKSOLV_PROGRESS_INTERVAL", "10")))
    except ValueError:
        return 10.0


class ProgressLines:
    """Plain progress lines on stderr, for logs: every message event at once, and of the per-batch
    events (prove's `batch`, verify's `verified`) the first, the last, and one per interval between."""

    def __init__(self, interval: float | None = None, stream: Any = None) -> None:
        self.interval = progress_interval() if interval is None else interval
        self.stream = stream
        self.last = -float("inf")
        self.accounts = 0

    def say(self, text: str) -> None:
        print(text, file=self.stream or sys.stderr, flush=True)

    def due(self, done: int, of: int) -> bool:
        now = time.monotonic()
        if done in (1, of) or now - self.last >= self.interval:
            self.last = now
            return True
        return False

    def __call__(self, event: Event) -> None:
        kind = event.get("event")
        if kind == "committed":
            self.say(
                f"committed {event['accounts']} accounts (capacity {event['capacity']}, {event['batches']} batches), "
                f"root {event['root']}"
            )
        elif kind == "proving":
            resumed = f", {event['resumed']} resumed" if event.get("resumed") else ""
            self.say(f"proving {event['batches']} batches ({event['prover']}, {event['executor']}{resumed})")
        elif kind == "batch":
            self.accounts += event.get("accounts", 0)
            if self.due(event["done"], event["of"]):
                rate = (
                    ""
                    if event.get("resumed")
                    else f", {event['accounts_per_s']:.1f} accounts/s, {_eta(event['eta_s'])}"
                )
                self.say(f"proved {event['done']}/{event['of']} batches ({self.accounts} accounts this run{rate})")
        elif kind == "retry":
            self.say(f"batch {event['index']}: attempt {event['attempt']} failed ({event['reason']}); proving it again")
        elif kind == "verifying":
            self.say(f"verifying {event['batches']} batch proofs ({event['backend']})")
        elif kind == "verified":
            if self.due(event["done"], event["of"]):
                self.say(f"verified {event['done']}/{event['of']} batch proofs ({event['backend']})")
        elif kind == "step":
            self.say(event["message"])
        elif kind == "done":
            self.say(f"done in {event['seconds']} s")


def verify_printer(quiet: bool) -> EventSink:
    """An `on_event` for verify's proof checks: plain lines on stderr (never on stdout, where the
    report goes), or nothing."""
    return ignore if quiet else ProgressLines()


@contextmanager
def event_printer(as_json: bool) -> Iterator[Callable[[dict], None]]:
    """Yield an `on_event` callback for `zksolv.prove.prove`: JSON lines on stdout, a bar on a
    terminal, plain lines in a log."""
    if as_json:

        def emit(event: dict) -> None:
            sys.stdout.write(json.dumps(event) + "\n")
            sys.stdout.flush()

        yield emit
        return
    if not sys.stderr.isatty():
        yield ProgressLines()
        return
    console = Console(stderr=True)
    columns = [
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]}"),
        TimeElapsedColumn(),
        TextColumn("{task.fields[eta]}"),
    ]
    with Progress(*columns, console=console, transient=False) as bar:
        state: dict = {"task": None}

        def on_event(event: dict) -> None:
            kind = event.get("event")
            task = state["task"]
            if kind == "committed":
                console.print(
                    f"committed {event['accounts']} accounts (capacity {event['capacity']}), root {event['root']}"
                )
                state["task"] = bar.add_task("proving batches", total=event["batches"], rate="", eta=_eta(None))
            elif kind == "proving" and task is not None:
                resumed = f", {event['resumed']} resumed" if event.get("resumed") else ""
                bar.update(task, description=f"proving ({event['prover']}, {event['executor']}{resumed})")
            elif kind == "batch" and task is not None:
                fields: dict[str, Any] = {}
                if not event.get("resumed"):
                    fields = {"rate": f"{event['accounts_per_s']:.1f} accounts/s", "eta": _eta(event["eta_s"])}
                if "done" in event:
                    bar.update(task, completed=event["done"], **fields)
                else:
                    bar.update(task, advance=1, **fields)
            elif kind == "retry":
                console.print(
                    f"batch {event['index']}: attempt {event['attempt']} failed ({event['reason']}); proving it again"
                )
            elif kind == "step":
                console.print(event["message"], markup=False, highlight=False)

        yield on_event


def step_printer(quiet: bool, err: bool = True) -> EventSink:
    """An `on_event` for the jobs that only report steps (setup, audit-setup, demo): each message on a
    line (stderr by default, where it does not mix with a --json document on stdout), or nothing."""
    if quiet:
        return ignore

    def on_event(event: Event) -> None:
        if event.get("event") == "step":
            print(event["message"], file=sys.stderr if err else sys.stdout, flush=True)

    return on_event
