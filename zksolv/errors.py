"""Errors the library raises at its edges, carrying every problem found.

Input validation collects all problems (up to a limit) instead of stopping at
the first, so a venue fixing an export sees the whole list in one run.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """One input problem, located as precisely as the input allows."""

    file: str
    message: str
    row: int | None = None  # 1-based line number in a CSV (header = 1), item number in JSON
    account: str | None = None
    column: str | None = None

    def __str__(self) -> str:
        where = [self.file]
        if self.row is not None:
            where.append(f"row {self.row}")
        if self.account is not None:
            where.append(f"account {self.account!r}")
        if self.column is not None:
            where.append(f"column {self.column!r}")
        return f"{': '.join([', '.join(where), self.message])}"


class ZksolvError(Exception):
    """Base class of every error the library reports to a user."""


class InputError(ZksolvError):
    """Bad input: one or more problems, each naming file/row/account/column."""

    def __init__(self, problems: list[Problem], truncated: bool = False):
        self.problems = problems
        self.truncated = truncated
        super().__init__("\n".join(str(p) for p in problems))


class VerificationError(ZksolvError):
    """A proof or commitment did not verify; the message says which check."""
