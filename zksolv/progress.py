"""Progress for long jobs: a rich bar for people, JSON lines for pipelines."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn


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
    columns = [TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TextColumn("{task.fields[rate]}"), TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn()]
    with Progress(*columns, console=console, transient=False) as bar:
        state: dict = {"task": None, "accounts": 0, "started": time.monotonic()}

        def on_event(event: dict) -> None:
            kind = event.get("event")
            if kind == "committed":
                console.print(f"committed {event['accounts']} accounts (capacity {event['capacity']}), "
                              f"root {event['root']}")
                state["task"] = bar.add_task("proving batches", total=event["batches"], rate="")
                state["started"] = time.monotonic()
            elif kind == "batch" and state["task"] is not None:
                if not event.get("resumed"):
                    state["accounts"] += event.get("accounts", 0)
                elapsed = max(time.monotonic() - state["started"], 1e-9)
                bar.update(state["task"], advance=1, rate=f"{state['accounts'] / elapsed:.1f} accounts/s")
        yield on_event
