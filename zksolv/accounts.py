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
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from .errors import InputError, Problem, ProblemLog
from .field import AMOUNT_MAX, AMOUNT_MIN
from .io import read_json
from .params import MarketParams, RiskParams
from .units import UnitError, from_units, split_decimal, to_units, to_units_floor

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
# How a venue exports a position's entry (PROTOCOL.md §3.4), as a "<market>:<kind>" CSV column or
# a JSON field, for markets whose params give entry_cost_decimals.
ENTRY_KINDS = {"entry_price": "entry_prices", "entry_cost": "entry_costs", "unrealized_pnl": "unrealized_pnl"}


def normalize_account_id(text: str) -> str:
    """The one normalisation of an account id or sub-account name (PROTOCOL.md §4), applied before
    the duplicate check and before hashing: surrounding white space removed (Unicode White_Space),
    then Unicode NFC. Ids stay case-sensitive: `Alice` and `alice` are two accounts."""
    text = text.strip()
    return text if text.isascii() else unicodedata.normalize("NFC", text)


def _ceil(numerator: int, denominator: int) -> int:
    return -(-numerator // denominator)


def entry_cost_units(kind: str, text: str, size: int, market: MarketParams, value_scale: int) -> int:
    """A position's entry cost in 10^-d quote (d = the market's entry_cost_decimals) from what the
    venue exports: `entry_price` (cost = size × entry), `entry_cost`, or `unrealized_pnl` (cost =
    size × mark − uPnL). Rounded up, toward +∞, so that the account's equity and health are never
    overstated (by less than 10^-d quote per position, PROTOCOL.md §3.4)."""
    d = market.entry_cost_decimals
    assert d is not None
    sign, whole, frac = split_decimal(text)
    number, places = sign * int(whole + frac), len(frac)  # the exported value is number / 10^places
    if kind == "entry_price":
        if number < 0:
            raise UnitError(f"entry price {text.strip()!r} is negative")
        return _ceil(size * number * 10**d, 10 ** (market.decimals + places))
    if kind == "entry_cost":
        cost = _ceil(number * 10**d, 10**places)
    else:  # size × mark at the value scale, minus the exported PnL
        cost = _ceil(
            size * market.scaled_price * 10**places - number * 10**value_scale, 10 ** (value_scale + places - d)
        )
    if cost and not size:
        raise UnitError(f"{kind} {text.strip()!r} on a zero position (a closed position has no entry cost)")
    return cost


def _amount_ceiling(decimals: int) -> str:
    return from_units(AMOUNT_MAX, decimals)


def decimals_that_fit(magnitude_units: int, decimals: int) -> int:
    """The largest decimals ≤ `decimals` at which an amount of `magnitude_units` (at `decimals`)
    stays within the signed 64-bit range; -1 if none does (it exceeds 2^63 whole units)."""
    fit = decimals
    while fit >= 0 and _ceil(magnitude_units, 10 ** (decimals - fit)) > AMOUNT_MAX:
        fit -= 1
    return fit


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
    entry_costs: dict[str, AmountText] = Field(
        default_factory=dict,
        description="market → the position's cost, size × entry price in quote (PROTOCOL.md §3.4); an "
        "inclusion file always gives this",
    )
    entry_prices: dict[str, AmountText] = Field(
        default_factory=dict, description="market → the position's entry price, quote per unit"
    )
    unrealized_pnl: dict[str, AmountText] = Field(
        default_factory=dict, description="market → the position's unrealised PnL at the published mark, quote"
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


class RangeOverflows:
    """Amounts outside the signed 64-bit range, per symbol: how many and the largest, so that the
    reader's last problem can say which decimals would fit them (PROTOCOL.md §2.2)."""

    def __init__(self) -> None:
        self.largest: dict[str, tuple[int, int, int]] = {}  # symbol → (count, largest |units|, decimals)

    def add(self, symbol: str, units: int, decimals: int) -> None:
        count, largest, _ = self.largest.get(symbol, (0, 0, decimals))
        self.largest[symbol] = (count + 1, max(largest, abs(units)), decimals)

    def report(self, log: ProblemLog, source: str) -> None:
        for symbol, (count, largest, decimals) in self.largest.items():
            fit = decimals_that_fit(largest, decimals)
            advice = (
                f'it fits at {fit} decimals (ceiling {_amount_ceiling(fit)}): set "decimals": {fit} and '
                f'"rounding": "down" for {symbol} in the params (zksolv params suggest-decimals)'
                if fit >= 0
                else "no decimals fit it: it exceeds 2^63 whole units"
            )
            log.add(
                Problem(
                    source,
                    f"{symbol}: {count} amount(s) above the ceiling {_amount_ceiling(decimals)} {symbol} at "
                    f"{decimals} decimals; the largest is {from_units(largest, decimals)}, and {advice}",
                    column=symbol,
                )
            )


def _convert(
    log: ProblemLog,
    source: str,
    row: int,
    account: str | None,
    column: str,
    text: str,
    decimals: int,
    overflows: RangeOverflows | None = None,
    symbol: str = "",
    rounding: str = "exact",
) -> int:
    try:
        if not text.strip():
            return 0
        value = to_units_floor(text, decimals) if rounding == "down" else to_units(text, decimals)
    except UnitError as exc:
        log.add(Problem(source, str(exc), row=row, account=account, column=column))
        return 0
    if not AMOUNT_MIN <= value <= AMOUNT_MAX:
        log.add(
            Problem(
                source,
                f"{text.strip()} {symbol or column} is outside the signed 64-bit range: at {decimals} decimals "
                f"|value| must be at most {_amount_ceiling(decimals)} (2^63 − 1 base units)",
                row=row,
                account=account,
                column=column,
            )
        )
        if overflows is not None:
            overflows.add(symbol or column, value, decimals)
        return 0
    return value


def _cost(
    log: ProblemLog,
    source: str,
    row: int,
    account: str,
    column: str,
    kind: str,
    text: str,
    size: int,
    market: MarketParams,
    value_scale: int,
) -> int:
    """The leaf value of a position's entry cost: −cost (PROTOCOL.md §3.4), 0 for a blank cell."""
    if not text.strip():
        if size:
            log.add(Problem(source, f"missing {kind} of a non-zero position", row=row, account=account, column=column))
        return 0
    try:
        cost = entry_cost_units(kind, text, size, market, value_scale)
    except UnitError as exc:
        log.add(Problem(source, str(exc), row=row, account=account, column=column))
        return 0
    if not AMOUNT_MIN <= -cost <= AMOUNT_MAX:
        log.add(
            Problem(
                source,
                f"entry cost {from_units(cost, market.entry_cost_decimals or 0)} is outside the amount range "
                f"at {market.entry_cost_decimals} decimals",
                row=row,
                account=account,
                column=column,
            )
        )
        return 0
    return -cost


def _identity(account_id: str, subaccount: str) -> str | tuple[str, str]:
    """What must be unique: the id for a main account (a plain string, as many as there are rows),
    (id, subaccount) for a sub-account; a string never equals a tuple, so both share one set."""
    return (account_id, subaccount) if subaccount else account_id


def _check_id(log: ProblemLog, seen: dict, source: str, row: int, account_id: str, subaccount: str = "") -> bool:
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
        # Both rows, as normalised ids: " uid1" and "uid1 " are one account (normalize_account_id).
        if subaccount:
            message, column = f"duplicate subaccount {subaccount!r} of this account_id", SUBACCOUNT_COLUMN
        else:
            message, column = "duplicate account_id", ID_COLUMN
        log.add(
            Problem(
                source,
                f"{message}: row {seen[identity]} has the same after trimming white space and NFC",
                row=row,
                account=account_id,
                column=column,
            )
        )
        return False
    seen[identity] = row
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
    overflows = RangeOverflows()
    cost_slots = params.entry_cost_slots
    # Every slot but the entry costs is a column: (slot, decimals, symbol, rounding).
    k = len(params.assets)
    slots = [(i, a.decimals, a.symbol, a.rounding) for i, a in enumerate(params.assets) if a.cost_of is None]
    slots += [(k + j, m.decimals, m.symbol, "exact") for j, m in enumerate(params.markets)]
    symbols = tuple(symbol for _, _, symbol, _ in slots)
    n_slots = params.n_slots
    seen: dict = {}
    try:
        with path.open("r", encoding="utf-8-sig", newline="") as handle:
            reader = csv.reader(handle, strict=True)
            header = next(reader, None)
            if header is None:
                raise InputError(
                    [Problem(source, f"empty file: expected a header row '{ID_COLUMN},{','.join(symbols)}'")]
                )
            columns, entry_columns = _csv_columns(source, header, symbols, params)
            id_index = columns[ID_COLUMN]
            sub_index = columns.get(SUBACCOUNT_COLUMN)
            mode_index = columns.get(MODE_COLUMN)
            n_cells = len(header)
            cells = [(columns[symbol], slot, places, symbol, rounding) for slot, places, symbol, rounding in slots]
            costs = [
                (entry_columns[m.symbol][0], kind, cost_slots[m.symbol], k + j, m)
                for j, m in enumerate(params.markets)
                if m.symbol in cost_slots
                for kind in (entry_columns[m.symbol][1],)
            ]
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
                account_id = normalize_account_id(fields[id_index])
                subaccount = normalize_account_id(fields[sub_index]) if sub_index is not None else ""
                identity = (account_id, subaccount) if subaccount else account_id
                if (
                    account_id
                    and len(account_id) <= 256
                    and identity not in seen
                    and not control(account_id)
                    and (not subaccount or (len(subaccount) <= MAX_SUBACCOUNT and not control(subaccount)))
                ):
                    seen[identity] = reader.line_num
                    valid = True
                else:
                    valid = _check_id(log, seen, source, reader.line_num, account_id, subaccount)
                amounts = [0] * n_slots
                for j, slot, places, symbol, rounding in cells:
                    text = fields[j]
                    if not text:
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
                                amounts[slot] = value
                                continue
                    amounts[slot] = _convert(
                        log, source, reader.line_num, account_id, symbol, text, places, overflows, symbol, rounding
                    )
                for (j, column), kind, cost_slot, market_slot, market in costs:
                    amounts[cost_slot] = _cost(
                        log,
                        source,
                        reader.line_num,
                        account_id,
                        column,
                        kind,
                        fields[j],
                        amounts[market_slot],
                        market,
                        params.value_scale,
                    )
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
    overflows.report(log, source)
    log.raise_if_any()


def _csv_columns(
    source: str, header: list[str], symbols: tuple[str, ...], params: RiskParams
) -> tuple[dict[str, int], dict[str, tuple[tuple[int, str], str]]]:
    """Column indexes by name, and per market with entry costs its one entry column
    ((index, name), kind) — "<market>:entry_price", ":entry_cost" or ":unrealized_pnl"."""
    problems = []
    columns: dict[str, int] = {}
    entries: dict[str, tuple[tuple[int, str], str]] = {}
    costed = set(params.entry_cost_slots)
    markets = {m.symbol for m in params.markets}
    for index, name in enumerate(header):
        name = name.strip()
        market, colon, kind = name.rpartition(":")
        if name in columns:
            problems.append(Problem(source, "duplicate column", row=1, column=name))
        elif colon and kind in ENTRY_KINDS and market in markets:
            if market not in costed:
                problems.append(
                    Problem(
                        source,
                        f'{market} has no entry costs in the params: give it "entry_cost_decimals" '
                        "(PROTOCOL.md §3.4) to use this column",
                        row=1,
                        column=name,
                    )
                )
            elif market in entries:
                problems.append(
                    Problem(
                        source,
                        f"{market} has two entry columns ({entries[market][0][1]} and {name}): give one",
                        row=1,
                        column=name,
                    )
                )
            else:
                entries[market] = ((index, name), kind)
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
    for market in sorted(costed - set(entries)):
        problems.append(
            Problem(
                source,
                f"missing entry column: the params give {market} entry costs, so give one of "
                + ", ".join(f"{market}:{kind}" for kind in ENTRY_KINDS),
                row=1,
                column=f"{market}:entry_price",
            )
        )
    if problems:
        raise InputError(problems)
    return columns, entries


def _read_json(path: Path, params: RiskParams) -> Iterator[Account]:
    source = str(path)
    data: Any = read_json(path, "accounts")
    if not isinstance(data, list):
        raise InputError([Problem(source, "expected a JSON list of accounts")])
    log = ProblemLog()
    assets = {a.symbol: (i, a.decimals, a.rounding) for i, a in enumerate(params.assets) if a.cost_of is None}
    markets = {m.symbol: (len(params.assets) + i, m.decimals, "exact") for i, m in enumerate(params.markets)}
    cost_slots = params.entry_cost_slots
    overflows = RangeOverflows()
    seen: dict = {}
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
        account_id = normalize_account_id(record.account_id)
        valid = _check_id(log, seen, source, item_number, account_id, normalize_account_id(record.subaccount))
        amounts = [0] * params.n_slots
        for kind, values, table in (("balances", record.balances, assets), ("positions", record.positions, markets)):
            for symbol, text in values.items():
                if symbol not in table:
                    log.add(
                        Problem(
                            source,
                            f"unknown symbol in {kind}",
                            row=item_number,
                            account=account_id,
                            column=f"{kind}.{symbol}",
                        )
                    )
                    continue
                slot, decimals, rounding = table[symbol]
                amounts[slot] = _convert(
                    log,
                    source,
                    item_number,
                    account_id,
                    f"{kind}.{symbol}",
                    text,
                    decimals,
                    overflows,
                    symbol,
                    rounding,
                )
        given = {kind: getattr(record, field) for kind, field in ENTRY_KINDS.items()}
        for j, market in enumerate(params.markets):
            kinds = [kind for kind, values in given.items() if market.symbol in values]
            cost_slot = cost_slots.get(market.symbol)
            if cost_slot is None:
                for kind in kinds:
                    log.add(
                        Problem(
                            source,
                            f"{market.symbol} has no entry costs in the params (entry_cost_decimals)",
                            row=item_number,
                            account=account_id,
                            column=f"{ENTRY_KINDS[kind]}.{market.symbol}",
                        )
                    )
                continue
            if len(kinds) > 1:
                log.add(
                    Problem(
                        source,
                        f"give one of {', '.join(ENTRY_KINDS[k] for k in kinds)} for {market.symbol}",
                        row=item_number,
                        account=account_id,
                        column=market.symbol,
                    )
                )
                continue
            kind = kinds[0] if kinds else "entry_cost"
            amounts[cost_slot] = _cost(
                log,
                source,
                item_number,
                account_id,
                f"{ENTRY_KINDS[kind]}.{market.symbol}",
                kind,
                given[kind].get(market.symbol, ""),
                amounts[len(params.assets) + j],
                market,
                params.value_scale,
            )
        for kind, values in given.items():
            for symbol in sorted(set(values) - {m.symbol for m in params.markets}):
                log.add(
                    Problem(
                        source,
                        "unknown market",
                        row=item_number,
                        account=account_id,
                        column=f"{ENTRY_KINDS[kind]}.{symbol}",
                    )
                )
        portfolio = record.margin_mode == "portfolio"
        _check_mode(log, source, item_number, account_id, portfolio, amounts, params)
        if valid and not log.problems:
            yield Account(account_id, tuple(amounts), normalize_account_id(record.subaccount), portfolio)
    overflows.report(log, source)
    log.raise_if_any()
