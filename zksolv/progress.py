"""Progress for long jobs: one rich bar for people, JSON lines for pipelines.

Every long job reports zksolv.events events (dicts with "event"); `step` (message) comes from
setup, audit-setup and the demo. Events of `zksolv.prove.prove`:
  committed  root, capacity, accounts, batches
  batch      index, of, resumed, done (batches finished, resumed ones included); when proved now
             also seconds, cpu_seconds (this batch), accounts, worker (host:pid), worker_cpu_seconds
             (that worker process so far), accounts_per_s, eta_s
  proving    batches (to prove now), resumed, prover, executor
  retry      index, attempt, reason (a worker failed or died; the batch is proved again)
  done       bundle, seconds
"""

from __future__ import annotations

import json
import sys
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


@contextmanager
def event_printer(as_json: bool) -> Iterator[Callable[[dict], None]]:
    """Yield an `on_event` callback for `zksolv.prove.prove`."""
    if as_json:

        def emit(event: dict) -> None:
            sys.stdout.write(json.dumps(event) + "\n")
            sys.stdout.flush()

        yield emit
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
