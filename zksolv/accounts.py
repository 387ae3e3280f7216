"""Account snapshots: streaming CSV and JSON readers that never round.

Rows become plain `Account` records (id, sub-account + integer amounts in slot
order) one at a time, so a file of millions of rows never holds millions of validated
objects. Every problem is collected with its file, row, account and column;
the reader raises `InputError` with all of them once the file is exhausted, so
callers must consume the whole iterator before writing any output.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from .errors import InputError, Problem, ProblemLog
from .field import AMOUNT_MAX, AMOUNT_MIN
from .io import read_json
from .params import RiskParams
from .units import UnitError, to_units

ID_COLUMN = "account_id"
SUBACCOUNT_COLUMN = "subaccount"  # optional: empty or absent = the holder's main account
MODE_COLUMN = "margin_mode"  # optional: "cross" (empty or absent) or "portfolio" (PROTOCOL.md §3.3)
MARGIN_MODES = {"": False, "cross": False, "portfolio": True}
MAX_SUBACCOUNT = 64
_CONTROL_CHARACTER = re.compile(r"[\x00-\x1f\x7f]")
AccountId = Annotated[str, StringConstraints(min_length=1, max_length=256, pattern=r"^[^\x00-\x1f\x7f]+$")]
# No control characters, so the 0x00 that separates it from the account id in the key derivation
# (PROTOCOL.md §4) is unambiguous.
SubaccountName = Annotated[str, StringConstraints(max_length=MAX_SUBACCOUNT, pattern=r"^[^\x00-\x1f\x7f]*$")]
AmountText = Annotated[str, Field(description="signed decimal string, at most the slot's decimals")]


@dataclass(frozen=True, slots=True)
class Account:
    """One margin account: balances (assets) then positions (markets), in base units.

    `subaccount` "" is the holder's main account; any other name is an isolated sub-account of the
    same holder (as on dYdX v4 or Hyperliquid) with its own collateral, positions and health: each
    (account_id, subaccount) is its own leaf, so a loss in it never draws on the holder's others."""

    account_id: str
    amounts: tuple[int, ...]
    subaccount: str = ""
    portfolio: bool = False  # margined by the scenarios (PROTOCOL.md §3.3) instead of the flat rates


def leaf_values(account: Account, params: RiskParams) -> tuple[int, ...]:
    """What the account's leaf hashes (PROTOCOL.md §4): its amounts, and with scenarios its margin
    mode (1 = portfolio) as one more signed value, so the holder can check how they were margined."""
    return account.amounts + (int(account.portfolio),) if params.scenarios else account.amounts


def split_leaf_values(values: tuple[int, ...], params: RiskParams) -> tuple[tuple[int, ...], bool]:
    """leaf_values back into (amounts, portfolio)."""
    n = params.n_slots
    return values[:n], bool(params.scenarios and values[n])


def account_label(account_id: str, subaccount: str = "") -> str:
    """`alice`, or `alice/isolated-btc` for a sub-account: for messages only (an id may contain '/';
    JSON output gives the two fields)."""
    return f"{account_id}/{subaccount}" if subaccount else account_id


class AccountRecord(BaseModel):
    """One account in the JSON accounts format."""

    model_config = ConfigDict(extra="forbid", strict=True)
    account_id: AccountId
    subaccount: SubaccountName = Field(
        default="", description="isolated sub-account of the holder; empty or absent = the main account"
    )
    balances: dict[str, AmountText] = Field(default_factory=dict, description="asset symbol → signed balance")
    positions: dict[str, AmountText] = Field(
        default_factory=dict, description="market or option symbol → signed position"
    )
    margin_mode: Literal["cross", "portfolio"] = Field(
        default="cross", description="cross: flat maintenance rates; portfolio: worst loss over the scenarios"
    )


class AccountsFile(BaseModel):
    """The JSON accounts format: a list of accounts (CSV is the streaming alternative:
    header `account_id`, optionally `subaccount` and `margin_mode`, plus one column per asset, market
    and option symbol, any order). Each (account_id, subaccount) is its own account."""

    model_config = ConfigDict(strict=True)
    accounts: list[AccountRecord]


def read_accounts(path: Path | str, params: RiskParams) -> Iterator[Account]:
    """Yield the accounts of a CSV or JSON snapshot; raise InputError at the end if any were bad."""
    path = Path(path)
    try:
        with path.open("rb") as probe:
            head = probe.read(64).lstrip(b"\xef\xbb\xbf \t\r\n")
    except OSError as exc:
        raise InputError([Problem(str(path), f"cannot read: {exc.strerror or exc}")]) from None
    is_json = path.suffix.lower() == ".json" or (path.suffix.lower() != ".csv" and head.startswith(b"["))
    reader = _read_json if is_json else _read_csv
    yield from reader(path, params)


def _convert(log: ProblemLog, source: str, row: int, account: str | None, column: str, text: str, decimals: int) -> int:
    try:
        value = to_units(text, decimals) if text.strip() else 0
    except UnitError as exc:
        log.add(Problem(source, str(exc), row=row, account=account, column=column))
        return 0
    if not AMOUNT_MIN <= value <= AMOUNT_MAX:
        log.add(
            Problem(
                source,
                f"{text.strip()} is outside the signed 64-bit range at {decimals} decimals "
                f"(|value| must be below 2^63 base units)",
                row=row,
                account=account,
                column=column,
            )
        )
        return 0
    return value


def _identity(account_id: str, subaccount: str) -> str | tuple[str, str]:
    """What must be unique: the id for a main account (a plain string, as many as there are rows),
    (id, subaccount) for a sub-account; a string never equals a tuple, so both share one set."""
    return (account_id, subaccount) if subaccount else account_id


def _check_id(log: ProblemLog, seen: set, source: str, row: int, account_id: str, subaccount: str = "") -> bool:
    valid = True
    if not account_id or len(account_id) > 256 or _CONTROL_CHARACTER.search(account_id):
        log.add(
            Problem(
                source,
                "account_id must be 1–256 characters without control characters",
                row=row,
                account=account_id or None,
                column=ID_COLUMN,
            )
        )
        valid = False
    if len(subaccount) > MAX_SUBACCOUNT or _CONTROL_CHARACTER.search(subaccount):
        log.add(
            Problem(
                source,
                f"subaccount must be 0–{MAX_SUBACCOUNT} characters without control characters",
                row=row,
                account=account_id or None,
                column=SUBACCOUNT_COLUMN,
            )
        )
        valid = False
    if not valid:
        return False
    identity = _identity(account_id, subaccount)
    if identity in seen:
        if subaccount:
            log.add(
                Problem(
                    source,
                    f"duplicate subaccount {subaccount!r} of this account_id",
                    row=row,
                    account=account_id,
                    column=SUBACCOUNT_COLUMN,
                )
            )
        else:
            log.add(Problem(source, "duplicate account_id", row=row, account=account_id, column=ID_COLUMN))
        return False
    seen.add(identity)
    return True


def _check_mode(
    log: ProblemLog, source: str, row: int, account_id: str, portfolio: bool, amounts: list[int], params: RiskParams
) -> None:
    """Portfolio margin needs scenarios; options need portfolio margin (the circuit proves the same,
    PortfolioOnly), so such a row is named here rather than surfacing as an unsatisfiable witness."""
    if not (portfolio or params.scenarios):
        return  # no scenarios: no options and no portfolio account, nothing to check
    if portfolio and not params.scenarios:
        log.add(
            Problem(
                source,
                "margin_mode portfolio needs scenarios in the params (PROTOCOL.md §3.3)",
                row=row,
                account=account_id,
                column=MODE_COLUMN,
            )
        )
    if not portfolio:
        k = len(params.assets)
        for market, amount in zip(params.markets, amounts[k:]):
            if market.option is not None and amount:
                log.add(
                    Problem(
                        source,
                        "an option position needs margin_mode portfolio: options are margined by the scenarios",
                        row=row,
                        account=account_id,
                        column=market.symbol,
                    )
                )


def _read_csv(path: Path, params: RiskParams) -> Iterator[Account]:
    source = str(path)
    log = ProblemLog()
    symbols = params.slot_symbols
    decimals = params.slot_decimals
    seen: set = set()
    try:
        with path.open("r", encoding="utf-8-sig", newline="") as handle:
            reader = csv.reader(handle, strict=True)
            header = next(reader, None)
            if header is None:
                raise InputError(
                    [Problem(source, f"empty file: expected a header row '{ID_COLUMN},{','.join(symbols)}'")]
                )
            columns = _csv_columns(source, header, symbols)
            id_index = columns[ID_COLUMN]
            sub_index = columns.get(SUBACCOUNT_COLUMN) if SUBACCOUNT_COLUMN not in symbols else None
            mode_index = columns.get(MODE_COLUMN)
            slot_index = [columns[s] for s in symbols]
            n_cells = len(header)
            cells = list(zip(slot_index, decimals, symbols))
            control = _CONTROL_CHARACTER.search
            # Per row, plain Python with a fast path for the common case (a well-formed id, amounts
            # like "-12.50"); anything else goes through _check_id / _convert, which report problems.
            for fields in reader:
                if len(fields) != n_cells:
                    if not fields or fields == [""]:
                        continue  # blank line
                    log.add(
                        Problem(
                            source,
                            f"expected {n_cells} cells, found {len(fields)}",
                            row=reader.line_num,
                            account=fields[id_index] if len(fields) > id_index else None,
                        )
                    )
                    continue
                account_id = fields[id_index]
                subaccount = fields[sub_index] if sub_index is not None else ""
                identity = (account_id, subaccount) if subaccount else account_id
                if (
                    account_id
                    and len(account_id) <= 256
                    and identity not in seen
                    and not control(account_id)
                    and (not subaccount or (len(subaccount) <= MAX_SUBACCOUNT and not control(subaccount)))
                ):
                    seen.add(identity)
                    valid = True
                else:
                    valid = _check_id(log, seen, source, reader.line_num, account_id, subaccount)
                amounts = []
                for j, places, symbol in cells:
                    text = fields[j]
                    if not text:
                        amounts.append(0)
                        continue
                    whole, dot, frac = text.partition(".")
                    digits = whole[1:] if whole[:1] == "-" else whole
                    # isascii(): isdecimal() alone accepts "৭" or "７", which int() reads as 7; anything
                    # non-ASCII goes to to_units, which allows only [0-9] and reports the cell.
                    if text.isascii() and digits.isdecimal() and (not dot or frac.isdecimal()):
                        frac = frac.rstrip("0")
                        if len(frac) <= places:
                            value = int(digits + frac.ljust(places, "0"))
                            if digits is not whole:
                                value = -value
                            if AMOUNT_MIN <= value <= AMOUNT_MAX:
                                amounts.append(value)
                                continue
                    amounts.append(_convert(log, source, reader.line_num, account_id, symbol, text, places))
                portfolio = False
                if mode_index is not None:
                    mode = fields[mode_index].strip()
                    if mode not in MARGIN_MODES:
                        log.add(
                            Problem(
                                source,
                                f"margin_mode must be cross or portfolio, not {mode!r}",
                                row=reader.line_num,
                                account=account_id,
                                column=MODE_COLUMN,
                            )
                        )
                    portfolio = MARGIN_MODES.get(mode, False)
                _check_mode(log, source, reader.line_num, account_id, portfolio, amounts, params)
                if valid and not log.problems:
                    yield Account(account_id, tuple(amounts), subaccount, portfolio)
    except UnicodeDecodeError as exc:
        log.add(Problem(source, f"not UTF-8 text (byte {exc.start} of a decoded chunk): {exc.reason}"))
    except csv.Error as exc:
        log.add(Problem(source, f"malformed CSV: {exc}"))
    except OSError as exc:
        log.add(Problem(source, f"cannot read: {exc.strerror or exc}"))
    log.raise_if_any()


def _csv_columns(source: str, header: list[str], symbols: tuple[str, ...]) -> dict[str, int]:
    problems = []
    columns: dict[str, int] = {}
    for index, name in enumerate(header):
        name = name.strip()
        if name in columns:
            problems.append(Problem(source, "duplicate column", row=1, column=name))
        elif name not in (ID_COLUMN, SUBACCOUNT_COLUMN, MODE_COLUMN) and name not in symbols:
            problems.append(
                Problem(
                    source, "unknown column: not an asset, market or option symbol of the params", row=1, column=name
                )
            )
        columns[name] = index
    for name in (ID_COLUMN, *symbols):
        if name not in columns:
            problems.append(Problem(source, "missing column", row=1, column=name))
    if problems:
        raise InputError(problems)
    return columns


def _read_json(path: Path, params: RiskParams) -> Iterator[Account]:
    source = str(path)
    data: Any = read_json(path, "accounts")
    if not isinstance(data, list):
        raise InputError([Problem(source, "expected a JSON list of accounts")])
    log = ProblemLog()
    assets = {a.symbol: (i, a.decimals) for i, a in enumerate(params.assets)}
    markets = {m.symbol: (len(params.assets) + i, m.decimals) for i, m in enumerate(params.markets)}
    seen: set = set()
    for item_number, item in enumerate(data, start=1):
        account_hint = item.get("account_id") if isinstance(item, dict) else None
        account_hint = account_hint if isinstance(account_hint, str) else None
        try:
            record = AccountRecord.model_validate(item)
        except ValidationError as exc:
            for err in exc.errors():
                column = ".".join(str(x) for x in err.get("loc", ())) or None
                log.add(
                    Problem(source, err.get("msg", "invalid"), row=item_number, account=account_hint, column=column)
                )
            continue
        valid = _check_id(log, seen, source, item_number, record.account_id, record.subaccount)
        amounts = [0] * params.n_slots
        for kind, values, table in (("balances", record.balances, assets), ("positions", record.positions, markets)):
            for symbol, text in values.items():
                if symbol not in table:
                    log.add(
                        Problem(
                            source,
                            f"unknown symbol in {kind}",
                            row=item_number,
                            account=record.account_id,
                            column=f"{kind}.{symbol}",
                        )
                    )
                    continue
                slot, decimals = table[symbol]
                amounts[slot] = _convert(
                    log, source, item_number, record.account_id, f"{kind}.{symbol}", text, decimals
                )
        portfolio = record.margin_mode == "portfolio"
        _check_mode(log, source, item_number, record.account_id, portfolio, amounts, params)
        if valid and not log.problems:
            yield Account(record.account_id, tuple(amounts), record.subaccount, portfolio)
    log.raise_if_any()
