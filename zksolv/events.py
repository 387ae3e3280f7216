"""One progress protocol for the long jobs: setup, audit-setup, prove and demo.

Each job reports what it does as events — plain dicts with an ``"event"`` name — to one callback,
``on_event``; the caller decides how to show them (the CLI: a progress bar and messages for people,
JSON lines for pipelines, zksolv.progress). The events are:

  step       message: a stage of setup, audit-setup or the demo ("compiling …", "phase-2 contribution")
  committed, proving, batch, retry, done: the proving job's (listed in zksolv.progress)

A library caller passes nothing and gets no output, or a function that logs, counts or forwards them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Event = dict[str, Any]
EventSink = Callable[[Event], None]


def step(message: str) -> Event:
    """The event of one stage of a job, with its human-readable message."""
    return {"event": "step", "message": message}


def ignore(_: Event) -> None:
    """The default sink: report nothing."""
