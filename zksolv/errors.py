"""Errors the library raises at its edges, each carrying the exit code the CLI ends with.

Like click's exceptions, an error knows its own exit code, so the CLI only prints
it and exits with ``exc.exit_code``:

====  ====================================================================
code  meaning
====  ====================================================================
0     the claim holds (valid bundle, proof, audit; every account solvent)
1     the claim does not hold (``ClaimError``, e.g. prove's InsolventError;
      or a report that is not valid: an invalid proof, a failed audit)
2     unusable input or output (``ZksolvError`` itself and its input
      subclasses: InputError, ArgumentError, io.OutputError, ...)
3     internal error: a bug in zksolv, never raised on purpose
4     a tool zksolv runs is missing or failed (``ToolchainError``: Node,
      circom, snarkjs, a prover, a proving worker)
130   interrupted (Ctrl-C, SIGINT)
141   stdout was closed by its reader (``zksolv … | head``): 128 + SIGPIPE,
      what a shell reports for a process killed by SIGPIPE; nothing more is
      written, no traceback
====  ====================================================================

docs/JSON.md has the same table with the JSON error document of each path, which
``error_document`` builds.

Messages name files, rows and library arguments, never CLI flags: advice in CLI
terms goes in ``hint``, which the CLI prints after the message (library callers
can ignore it). Input validation collects all problems (up to a limit) instead of
stopping at the first, so a venue fixing an export sees the whole list in one run.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

if TYPE_CHECKING:
    from pydantic import ValidationError

EXIT_OK = 0
EXIT_FALSE = 1
EXIT_INPUT = 2
EXIT_INTERNAL = 3
EXIT_TOOLCHAIN = 4
EXIT_INTERRUPTED = 130
EXIT_BROKEN_PIPE = 141


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
    """Base class of every error the library reports to a user: unusable input or output
    unless a subclass says otherwise."""

    exit_code: ClassVar[int] = EXIT_INPUT

    def __init__(self, message: str = "", *, hint: str | None = None):
        super().__init__(message)
        self.hint = hint

    def lines(self) -> list[str]:
        """What to show, one entry per line of the report (the CLI prefixes each with `error:`)."""
        return [str(self)]

    def details(self) -> dict | None:
        """Structured data beyond the message and problems, for the JSON error document (e.g. the
        accounts below maintenance of prove's refusal); None when there is none."""
        return None


class InputError(ZksolvError):
    """Bad input: one or more problems, each naming file/row/account/column."""

    def __init__(self, problems: list[Problem], truncated: bool = False, *, hint: str | None = None):
        self.problems = problems
        self.truncated = truncated
        super().__init__("\n".join(str(p) for p in problems), hint=hint)

    def lines(self) -> list[str]:
        return [str(p) for p in self.problems] + (
            ["… more problems not shown (fix these first)"] if self.truncated else []
        )


def validation_problems(file: str, exc: ValidationError) -> list[Problem]:
    """What pydantic found wrong with a file's document, one problem per field, each located by its
    path in the document (`circuit.n_assets: Input should be a valid integer`)."""
    problems = []
    for error in exc.errors():
        where = "".join(f"[{x}]" if isinstance(x, int) else f".{x}" for x in error["loc"]).removeprefix(".")
        message = error["msg"].removeprefix("Value error, ")
        problems.append(Problem(file, f"{where}: {message}" if where else message))
    return problems


class ArgumentError(InputError):
    """An argument of a library call is unusable (a batch size that is not a power of two, options
    that exclude each other): located by the argument's name."""

    def __init__(self, argument: str, message: str, *, hint: str | None = None):
        self.argument = argument
        super().__init__([Problem(argument, message)], hint=hint)


class ClaimError(ZksolvError):
    """The claim does not hold, so nothing was produced (exit 1, as for an invalid proof)."""

    exit_code: ClassVar[int] = EXIT_FALSE


class ToolchainError(ZksolvError):
    """A tool zksolv drives is missing or failed: Node, circom (a compile error, or an assert or
    constraint failing during witness generation), snarkjs, a Groth16 prover, a proving worker.
    The message carries the tool's own output, which names the failing template and line."""

    exit_code: ClassVar[int] = EXIT_TOOLCHAIN


MAX_PROBLEMS = 100  # per input file: enough to fix an export in one pass, bounded for a file of millions of rows


class ProblemLog:
    """Collects an input's problems: keeps the first MAX_PROBLEMS and counts the rest, then raises
    them all at once (InputError, marked truncated when some were dropped)."""

    def __init__(self) -> None:
        self.problems: list[Problem] = []
        self.dropped = 0

    def add(self, problem: Problem) -> None:
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(problem)
        else:
            self.dropped += 1

    def raise_if_any(self) -> None:
        if self.problems:
            raise InputError(self.problems, truncated=self.dropped > 0)


#: The `kind` of a JSON error document for each exit code (docs/JSON.md); "usage" (a command line
#: click refused, exit 2) is set by the CLI itself.
ERROR_KINDS = {
    EXIT_FALSE: "claim",
    EXIT_INPUT: "input",
    EXIT_INTERNAL: "internal",
    EXIT_TOOLCHAIN: "toolchain",
    EXIT_INTERRUPTED: "interrupted",
}


def problem_document(problem: Problem) -> dict:
    """One located problem as JSON: every location key present, null where the input has none."""
    return {
        "file": problem.file,
        "row": problem.row,
        "account": problem.account,
        "column": problem.column,
        "message": problem.message,
    }


def error_document(
    exc: BaseException,
    *,
    exit_code: int | None = None,
    kind: str | None = None,
    message: str | None = None,
    hint: str | None = None,
) -> dict:
    """The one JSON error document (docs/JSON.md, docs/schemas/error.schema.json): what `--json`
    prints instead of a command's result when it fails, whatever the failure.

    A ZksolvError gives its own exit code, lines, hint, located problems and details; anything else
    (an interruption, a usage error, a bug) is described by the arguments."""
    code = exit_code if exit_code is not None else getattr(exc, "exit_code", EXIT_INTERNAL)
    if isinstance(exc, ZksolvError):
        problems = [problem_document(p) for p in exc.problems] if isinstance(exc, InputError) else []
        truncated = isinstance(exc, InputError) and exc.truncated
        lines, details, hint = exc.lines(), exc.details(), exc.hint
    else:
        problems, truncated, details = [], False, None
        lines = [message if message is not None else f"{type(exc).__name__}: {exc}"]
    # "event" too, so that the document is also the last line of an event stream (prove --json).
    return {
        "ok": False,
        "event": "error",
        "error": {
            "kind": kind or ERROR_KINDS.get(code, "input"),
            "type": type(exc).__name__,
            "exit_code": code,
            "message": "\n".join(lines) if message is None else message,
            "problems": problems,
            "truncated": truncated,
            "hint": hint,
            "details": details,
        },
    }
