"""Every holder's inclusion file in one SQLite file (`inclusion.sqlite`), served by account id.

A venue with 10^6 holders should not hand a web backend a folder of 10^6 JSON files. The store
(stdlib sqlite3) holds the same documents: a one-row `meta` table with what every file shares
(format, epoch, root, capacity, the number of holders and the published params document, once), and
a `holders` table keyed by account id with each holder's own part of the `zksolv-inclusion/5`
document (PROTOCOL.md §4.1), i.e. everything but "params", as compact JSON in the document's key
order. `InclusionStore.get` puts the two back together: the very document `Commitment.holder_proof`
gives, so `io.dumps_json` of it is, byte for byte, the holder's file of the files layout.

`commitment.write_inclusion_proofs` picks the layout; `holder_file` reads either layout.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterable
from pathlib import Path
from types import TracebackType
from typing import Any

from .commitment import INCLUSION_FORMAT, format_refusal, inclusion_filename
from .errors import InputError, Problem
from .io import OutputError, parse_json, read_json

STORE_NAME = "inclusion.sqlite"
# PRAGMA application_id of every store ("zkin"): marks the file as zksolv's to tools such as `file`.
APPLICATION_ID = int.from_bytes(b"zkin", "big")
# 64 KiB pages: a holder's row (≈ 2.2 KB at depth 20) fits ~29 to a page, where 4 KiB pages hold one
# and leave the rest empty (2.3 GB instead of 4.3 GB at 2^20 holders, and 6 s instead of 16 s to write).
PAGE_SIZE = 65536
_SCHEMA = (
    "CREATE TABLE meta (format TEXT NOT NULL, epoch TEXT NOT NULL, root TEXT NOT NULL, "
    "capacity INTEGER NOT NULL, holders INTEGER NOT NULL, params TEXT NOT NULL)",
    "CREATE TABLE holders (account_id TEXT PRIMARY KEY, document TEXT NOT NULL)",
)
# The params, once per store, as compact JSON in their document's key order.
_COMPACT = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


def write_store(
    path: Path,
    *,
    epoch: str,
    root: str,
    capacity: int,
    params: dict,
    holders: Iterable[tuple[str, str]],
) -> int:
    """Write the store of `holders` to `path`, in one transaction; returns how many holders.

    `holders` gives (account_id, the holder's document without "params" as JSON text: what
    `Commitment.holder_part_texts` yields), each id once, and is consumed one at a time.

    Written as `.<name>.tmp` beside `path` and renamed into place at the end, so `path` is never a
    half-written store. No rollback journal and no fsync: the caller writes the whole folder
    atomically (io.atomic_directory), so a crash leaves no folder that looks complete."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    count = 0

    def rows() -> Iterable[tuple[str, str]]:
        nonlocal count
        for row in holders:
            count += 1
            yield row

    try:
        tmp.unlink(missing_ok=True)
        connection = sqlite3.connect(tmp, isolation_level=None)
        try:
            for pragma in (
                f"page_size = {PAGE_SIZE}",
                "journal_mode = OFF",
                "synchronous = OFF",
                f"application_id = {APPLICATION_ID}",
            ):
                connection.execute(f"PRAGMA {pragma}")
            connection.execute("BEGIN")
            for statement in _SCHEMA:
                connection.execute(statement)
            connection.executemany("INSERT INTO holders (account_id, document) VALUES (?, ?)", rows())
            connection.execute(
                "INSERT INTO meta VALUES (?, ?, ?, ?, ?, ?)",
                (INCLUSION_FORMAT, epoch, root, capacity, count, _COMPACT.encode(params)),
            )
            connection.execute("COMMIT")
        finally:
            connection.close()
        os.replace(tmp, path)
    except sqlite3.IntegrityError as exc:  # a programming error: holders() yields each id once
        tmp.unlink(missing_ok=True)
        raise ValueError(f"an account id is given twice: {exc}") from None
    except (sqlite3.Error, OSError) as exc:
        tmp.unlink(missing_ok=True)
        raise OutputError(f"cannot write {path}: {getattr(exc, 'strerror', None) or exc}") from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return count


class InclusionStore:
    """A store written by `write_store`, opened read-only; `get(account_id)` is a holder's file.

    Refused with an InputError naming the file when it is not a zksolv inclusion store, or holds
    documents of another format (a retired one with the reason). Use as a context manager, or
    `close()` it; one connection, so one thread."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise self._refusal("cannot read inclusion store: no such file")
        try:
            self._connection = sqlite3.connect(f"{self.path.resolve().as_uri()}?mode=ro", uri=True)
        except sqlite3.Error as exc:
            raise self._refusal(f"cannot read inclusion store: {exc}") from None
        try:
            self._read_meta()
        except BaseException:
            self._connection.close()
            raise

    def _refusal(self, message: str, account_id: str | None = None) -> InputError:
        return InputError([Problem(str(self.path), message, account=account_id)])

    def _read_meta(self) -> None:
        not_a_store = f"not a zksolv inclusion store (an SQLite file {STORE_NAME} with a meta and a holders table)"
        try:
            (application_id,) = self._connection.execute("PRAGMA application_id").fetchone()
            rows = self._connection.execute(
                "SELECT format, epoch, root, capacity, holders, params FROM meta"
            ).fetchall()
            self._connection.execute("SELECT account_id, document FROM holders LIMIT 0").fetchall()
        except sqlite3.Error as exc:  # not a database, or not this schema
            raise self._refusal(f"{not_a_store}: {exc}") from None
        if application_id != APPLICATION_ID or len(rows) != 1:
            raise self._refusal(not_a_store)
        found, epoch, root, capacity, holders, params = rows[0]
        if found != INCLUSION_FORMAT:
            raise self._refusal(format_refusal(found, INCLUSION_FORMAT, "inclusion store"))
        if not all(isinstance(x, str) for x in (epoch, root, params)) or not all(
            isinstance(x, int) for x in (capacity, holders)
        ):
            raise self._refusal(f"{not_a_store}: its meta row has values of the wrong type")
        try:
            document = parse_json(params)
        except ValueError as exc:
            raise self._refusal(f"the store's params are not valid JSON: {exc}") from None
        if not isinstance(document, dict):
            raise self._refusal("the store's params are not a JSON object")
        self.format: str = found
        self.epoch: str = epoch
        self.root: str = root
        self.capacity: int = capacity
        self._holders: int = holders
        self._params_text: str = params  # parsed strictly above; json.loads gives each get its own copy

    def count(self) -> int:
        """How many holders (inclusion files) the store holds."""
        return self._holders

    def get(self, account_id: str) -> dict:
        """The holder's inclusion file, exactly as `Commitment.holder_proof` gives it (its
        `io.dumps_json` is the file of the files layout); InputError naming the store and the
        account when the store has no file for that id."""
        try:
            row = self._connection.execute(
                "SELECT document FROM holders WHERE account_id = ?", (account_id,)
            ).fetchone()
        except sqlite3.Error as exc:
            raise self._refusal(f"cannot read inclusion store: {exc}", account_id) from None
        if row is None:
            raise self._refusal("no inclusion file for this account id in the store", account_id)
        try:
            document = parse_json(row[0])
        except ValueError as exc:
            raise self._refusal(f"the stored inclusion file is not valid JSON: {exc}", account_id) from None
        if not isinstance(document, dict) or document.get("account_id") != account_id:
            raise self._refusal("the stored inclusion file is not this account's", account_id)
        document["params"] = json.loads(self._params_text)
        return document

    def close(self) -> None:
        self._connection.close()

    def __enter__(self) -> InclusionStore:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close()


def holder_file(inclusion: Path | str, account_id: str) -> dict:
    """One holder's inclusion file from a folder that `write_inclusion_proofs` wrote, in either
    layout: from its `inclusion.sqlite` when it has one, else the holder's own JSON file
    (`inclusion_filename`). `inclusion` may also name the store file itself. InputError naming the
    folder (or file) and the account id when there is none for that id."""
    inclusion = Path(inclusion)
    if inclusion.is_file():
        store_path = inclusion
    elif inclusion.is_dir():
        store_path = inclusion / STORE_NAME
    else:
        raise InputError([Problem(str(inclusion), "no such inclusion folder or store")])
    if store_path.exists():
        with InclusionStore(store_path) as store:
            return store.get(account_id)
    path = inclusion / inclusion_filename(account_id)
    if not path.is_file():
        raise InputError(
            [
                Problem(
                    str(inclusion),
                    f"no inclusion file for this account id (neither {STORE_NAME} nor {path.name})",
                    account=account_id,
                )
            ]
        )
    document: Any = read_json(path, "inclusion file")
    if not isinstance(document, dict) or document.get("account_id") != account_id:
        raise InputError([Problem(str(path), "not this account's inclusion file", account=account_id)])
    return document
