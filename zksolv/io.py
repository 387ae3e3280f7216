"""Atomic output: a crash never leaves a file or folder that looks complete."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from .errors import InputError, Problem, ZksolvError


class OutputError(ZksolvError):
    """The output location cannot be written (exists, unwritable, disk full)."""


def read_json(path: Path | str, what: str = "") -> Any:
    """Parse a JSON file; any failure is an InputError naming the file (never a traceback)."""
    path = Path(path)
    label = f"{what} " if what else ""
    try:
        return json.loads(path.read_bytes().decode("utf-8-sig"))
    except OSError as exc:
        raise InputError([Problem(str(path), f"cannot read {label}{exc.strerror or exc}".strip())]) from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise InputError([Problem(str(path), f"{label}is not valid JSON: {exc}")]) from None


def dumps_json(data: Any) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def write_json_atomic(path: Path, data: Any) -> None:
    write_text_atomic(path, dumps_json(data))


def write_text_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def ensure_output_free(target: Path, replace: bool = False) -> None:
    """Fail early (before any long work) if `target` holds something we may not replace."""
    if target.exists() and not (target.is_dir() and not any(target.iterdir())) and not replace:
        raise OutputError(f"{target} already exists; choose another folder or pass --force to replace it")


@contextmanager
def atomic_directory(target: Path, replace: bool = False) -> Iterator[Path]:
    """Yield a temporary sibling folder; on success it becomes `target` in one rename.

    On any error the temporary folder is removed and `target` is untouched.
    An existing non-empty `target` is only replaced when `replace` is set.
    """
    target = Path(target)
    ensure_output_free(target, replace)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=target.parent))
    except OSError as exc:
        raise OutputError(f"cannot write to {target.parent}: {exc.strerror or exc}") from None
    try:
        yield tmp
        old = None
        if target.exists():
            old = target.with_name(f".{target.name}.old-{os.getpid()}")
            os.replace(target, old)
        os.replace(tmp, target)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise OutputError(f"cannot write {target}: {exc.strerror or exc}") from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
