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


class JsonError(ValueError):
    """JSON that parses but that zksolv refuses: a duplicate key, NaN or Infinity."""


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # json.loads keeps the *last* of two equal keys, while a person (or another JSON
    # reader) may take the first: the value shown would then not be the value used.
    obj: dict[str, Any] = {}
    for key, value in pairs:
        if key in obj:
            raise JsonError(
                f"duplicate key {key!r} (JSON readers disagree on which one counts, so zksolv refuses the file)"
            )
        obj[key] = value
    return obj


def _no_constant(name: str) -> Any:
    raise JsonError(f"{name} is not a JSON number")


def parse_json(data: bytes | str) -> Any:
    """zksolv's one strict JSON parser: no duplicate keys, no NaN/Infinity; bytes must be
    UTF-8 without a byte-order mark. Raises ValueError (JsonError, JSONDecodeError or
    UnicodeDecodeError, all ValueError subclasses)."""
    text = data.decode("utf-8") if isinstance(data, (bytes, bytearray)) else data
    return json.loads(text, object_pairs_hook=_unique_keys, parse_constant=_no_constant)


def read_json(path: Path | str, what: str = "", allow_bom: bool = True) -> Any:
    """Parse a JSON file strictly (parse_json); any failure is an InputError naming the file
    (never a traceback). A UTF-8 byte-order mark is skipped unless `allow_bom` is False
    (files that snarkjs also reads: Node's JSON.parse rejects a BOM)."""
    path = Path(path)
    label = f"{what} " if what else ""
    try:
        raw = path.read_bytes()
        return parse_json(raw.decode("utf-8-sig") if allow_bom else raw)
    except OSError as exc:
        raise InputError([Problem(str(path), f"cannot read {label}{exc.strerror or exc}".strip())]) from None
    except JsonError as exc:
        raise InputError([Problem(str(path), f"{label}refused: {exc}".strip())]) from None
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError
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
        raise OutputError(
            f"{target} already exists; choose another folder or allow replacing it", hint="pass --force to replace it"
        )


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
