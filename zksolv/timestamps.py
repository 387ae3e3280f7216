"""ISO-8601 UTC timestamps, zksolv's one parser and one writer.

The params epoch and every oracle observation time go through `epoch_seconds`, so
a timestamp that one of them accepts the other accepts too. It imports nothing of
zksolv, so both `params` and `oracle` (which `params` imports) can use it.
"""

from __future__ import annotations

from datetime import UTC, datetime


def epoch_seconds(text: str, what: str = "epoch") -> int:
    """ISO-8601 UTC timestamp → Unix seconds; rejects local times, fractions and times before 1970.

    `what` names the value in the message ("epoch", "time", "start")."""
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"{what} {text!r} is not an ISO-8601 timestamp") from None
    offset = parsed.utcoffset()  # None exactly when the text has no zone (naive)
    if offset is None or offset.total_seconds() != 0:
        raise ValueError(f"{what} {text!r} must be in UTC (end with Z or +00:00)")
    if parsed.microsecond:
        raise ValueError(f"{what} {text!r} must be whole seconds")
    seconds = int(parsed.timestamp())
    if seconds < 0:
        raise ValueError(f"{what} {text!r} is before 1970")
    return seconds


def iso_utc(seconds: int) -> str:
    """Unix seconds → the timestamp as zksolv writes it: "2026-11-24T00:00:00Z"."""
    return datetime.fromtimestamp(seconds, UTC).isoformat().replace("+00:00", "Z")
