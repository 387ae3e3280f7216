"""Circuit tests: SolvencyBatch accepts exactly the statements of PROTOCOL.md §6.

The expected public signals are recomputed here from the protocol text
(only `zksolv.poseidon.poseidon` is shared with the library), so a bug that
the library and the circuit have in common would still show up as a mismatch
against this file. Every rejection test changes one thing and recomputes
everything else consistently, and checks *where* circom failed, so a test
cannot pass because the input was wrong for an unrelated reason.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from pathlib import Path

import pytest

from zksolv.circuit import (
    BN254_R,
    CircuitError,
    check_witness,
    circuits_dir,
    compile_circuit,
    compute_witness,
    main_source,
    public_signals,
    r1cs_info,
    read_sym,
    read_wtns,
    write_wtns,
)
from zksolv.poseidon import poseidon

pytestmark = pytest.mark.node

R = BN254_R
OFFSET = 1 << 63
PARAMS_TAG = int.from_bytes(b"zksolv.params.v1", "big")
LEAF_TAG = int.from_bytes(b"zksolv.leaf.v2", "big")
MAX = (1 << 63) - 1  # largest amount
MIN = -(1 << 63)  # smallest amount
P_MAX = (1 << 64) - 1  # largest scaled price


# --------------------------------------------------------------------------
# independent reference model (PROTOCOL.md §1, §3, §4, §5)


def hash_chain(xs: list[int]) -> int:
    if len(xs) <= 16:
        return poseidon(xs)
    h = poseidon(xs[:16])
    for i in range(16, len(xs), 15):
        h = poseidon([h, *xs[i : i + 15]])
    return h


@dataclass(frozen=True)
class Params:
    price: tuple[int, ...]
    aw: tuple[int, ...]
    lw: tuple[int, ...]
    mark: tuple[int, ...]
    mmr: tuple[int, ...]
    epoch: int = 1_795_478_400  # 2026-11-24T00:00:00Z
    meta: int = 0x00C0FFEE << 200  # any 248-bit value
    # Per market, its brackets after the first as (floor, rate): §3.1. () = every market flat.
    brackets: tuple[tuple[tuple[int, int], ...], ...] = ()
    # §3.3: the scenario price vectors (one price per slot, assets then markets) and per market 1 for
    # an option series (held only by portfolio accounts). () = a shape without scenarios.
    scenarios: tuple[tuple[int, ...], ...] = ()
    kind: tuple[int, ...] = ()

    @property
    def K(self) -> int:
        return len(self.price)

    @property
    def M(self) -> int:
        return len(self.mark)

    def extra(self, m: int) -> tuple[tuple[int, int], ...]:
        return self.brackets[m] if self.brackets else ()

    @property
    def tiers(self) -> tuple[int, ...]:
        return tuple(1 + len(self.extra(m)) for m in range(self.M))

    @property
    def S(self) -> int:
        return len(self.scenarios)

    def kinds(self) -> tuple[int, ...]:
        return self.kind or (0,) * self.M

    def hash(self) -> int:
        assets = [p + (a << 64) + (lw << 80) for p, a, lw in zip(self.price, self.aw, self.lw)]
        markets = [q + (m << 64) + (o << 78 if self.S else 0) for q, m, o in zip(self.mark, self.mmr, self.kinds())]
        brackets = [f + (r << 127) for m in range(self.M) for f, r in self.extra(m)]
        flat = [p for vector in self.scenarios for p in vector]
        packed = [sum(x << (64 * t) for t, x in enumerate(flat[j : j + 3])) for j in range(0, len(flat), 3)]
        return hash_chain([PARAMS_TAG, self.meta, self.epoch, *assets, *markets, *brackets, *packed])


def margin(notional: int, m: int, p: Params) -> int:
    """§3.1 as Binance documents it: notional·mmr_t − cum_t for the bracket the notional is in,
    cum_t = cum_{t−1} + floor_t·(mmr_t − mmr_{t−1}) (here in bps, so cum is in health units)."""
    table = [(0, p.mmr[m]), *p.extra(m)]
    cum, previous, chosen = 0, 0, None
    for floor, rate in table:
        cum += floor * (rate - previous)
        previous = rate
        if notional >= floor:
            chosen = notional * rate - cum
    return chosen


def scenario_health(amounts: tuple[int, ...], p: Params, prices: tuple[int, ...], portfolio: int) -> int:
    """§3.3 literally: at the prices of one scenario, Σ b P (b ≥ 0 ? aw : lw) + Σ s Q 10000, minus
    Σ |s| Q mmr for a cross-margined account (no brackets in a scenario shape)."""
    h = 0
    for k in range(p.K):
        b = amounts[k]
        h += b * prices[k] * (p.aw[k] if b >= 0 else p.lw[k])
    for m in range(p.M):
        s = amounts[p.K + m]
        h += s * prices[p.K + m] * 10000 - (0 if portfolio else abs(s) * prices[p.K + m] * p.mmr[m])
    return h


def health(amounts: tuple[int, ...], p: Params, portfolio: int = 0) -> int:
    """§3 literally: Σ b P (b ≥ 0 ? aw : lw) + Σ (s Q 10000 − margin(|s| Q)); in a scenario shape a
    portfolio account's health is its worst over the published prices and every scenario (§3.3)."""
    if portfolio:
        return min(scenario_health(amounts, p, v, 1) for v in ((*p.price, *p.mark), *p.scenarios))
    h = 0
    for k in range(p.K):
        b = amounts[k]
        h += b * p.price[k] * (p.aw[k] if b >= 0 else p.lw[k])
    for m in range(p.M):
        s = amounts[p.K + m]
        h += s * p.mark[m] * 10000 - margin(abs(s) * p.mark[m], m, p)
    return h


def leaf(key: int, u: list[int]) -> int:
    e = [sum(u[j] << (64 * t) for t, j in enumerate(range(i, min(i + 3, len(u))))) % R for i in range(0, len(u), 3)]
    return poseidon([LEAF_TAG, key, *e])


def root(leaves: list[int]) -> int:
    level = list(leaves)
    while len(level) > 1:
        level = [poseidon([level[i], level[i + 1]]) for i in range(0, len(level), 2)]
    return level[0]


def equity(amounts: tuple[int, ...], p: Params) -> int:
    """§3: Σ b P + Σ s Q (unweighted)."""
    return sum(x * price for x, price in zip(amounts, (*p.price, *p.mark)))


def figures(healths: list[int], equities: list[int]) -> list[int]:
    """Accounts below maintenance, Σ shortfall, accounts with negative equity, Σ bad debt."""
    return [
        sum(h < 0 for h in healths),
        sum(max(-h, 0) for h in healths),
        sum(e < 0 for e in equities),
        sum(max(-e, 0) for e in equities),
    ]


def batch_totals(accounts: list[tuple[int, ...]], p: Params, portfolio: list[int] | None = None) -> list[int]:
    """§5 totals vector: credit/debit and long/short pairs, then the liquidation figures, then (§3.3)
    the same four figures in each scenario."""
    modes = portfolio or [0] * len(accounts)
    out: list[int] = []
    for i in range(len(accounts[0])):
        out.append(sum(max(a[i], 0) for a in accounts))
        out.append(sum(max(-a[i], 0) for a in accounts))
    out += figures([health(a, p, f) for a, f in zip(accounts, modes)], [equity(a, p) for a in accounts])
    for prices in p.scenarios:
        out += figures(
            [scenario_health(a, p, prices, f) for a, f in zip(accounts, modes)],
            [sum(x * q for x, q in zip(a, prices)) for a in accounts],
        )
    return out


def shape(K: int, M: int, B: int, tiers: tuple[int, ...] = (), S: int = 0) -> int:
    return K + (M << 16) + (B << 32) + (sum((t - 1) << (5 * m) for m, t in enumerate(tiers)) << 64) + (S << 240)


def hash_chain8(xs: list[int]) -> int:
    """§5 HashChain8: zero-padded to 8 + 7k, then 8-input Poseidon calls."""
    padded = xs + [0] * ((8 + 7 * max(0, -(-(len(xs) - 8) // 7))) - len(xs))
    h = poseidon(padded[:8])
    for i in range(8, len(padded), 7):
        h = poseidon([h, *padded[i : i + 7]])
    return h


def acc(params_hash: int, shape_value: int, totals: list[int], blinding: int) -> int:
    return poseidon([params_hash, hash_chain8([shape_value, *totals, blinding])])


@dataclass
class Batch:
    """One batch's private inputs; `u` overrides the offset encoding (to feed
    out-of-range values) and `public` overrides the honest public signals."""

    params: Params
    accounts: list[tuple[int, ...]]
    keys: list[int]
    totals_in: list[int]
    blinding_in: int = 0x1234 << 200
    blinding_out: int = 0x5678 << 200
    u: list[list[int]] | None = None
    public: dict[str, int] = field(default_factory=dict)
    portfolio: list[int] | None = None  # §3.3 margin mode per account (scenario shapes only)

    @property
    def shape(self) -> int:
        return shape(self.params.K, self.params.M, len(self.keys), self.params.tiers, self.params.S)

    def offsets(self) -> list[list[int]]:
        return self.u if self.u is not None else [[x + OFFSET for x in a] for a in self.accounts]

    def modes(self) -> list[int]:
        return self.portfolio or [0] * len(self.keys)

    def leaf_values(self) -> list[list[int]]:
        """§4: the offset amounts, and in a scenario shape the margin mode as one more offset value."""
        if not self.params.S:
            return self.offsets()
        return [[*u, f + OFFSET] for u, f in zip(self.offsets(), self.modes())]

    def expected_public(self) -> list[int]:
        leaves = [leaf(k, u) for k, u in zip(self.keys, self.leaf_values())]
        totals = batch_totals(self.accounts, self.params, self.modes())
        totals_out = [a + b for a, b in zip(self.totals_in, totals)]
        honest = {
            "batch_root": root(leaves),
            "acc_in": acc(self.params.hash(), self.shape, self.totals_in, self.blinding_in),
            "acc_out": acc(self.params.hash(), self.shape, totals_out, self.blinding_out),
        }
        honest.update(self.public)
        return [honest[k] for k in ("batch_root", "acc_in", "acc_out")]

    def circuit_input(self) -> dict:
        p = self.params
        return {
            **dict(zip(("batch_root", "acc_in", "acc_out"), self.expected_public())),
            "key": self.keys,
            "amount": self.offsets(),
            "price": list(p.price),
            "asset_weight": list(p.aw),
            "liability_weight": list(p.lw),
            "mark_price": list(p.mark),
            "mmr": list(p.mmr),
            "bracket_floor": [f for m in range(p.M) for f, _ in p.extra(m)],
            "bracket_rate": [r for m in range(p.M) for _, r in p.extra(m)],
            **(
                {
                    "portfolio": self.modes(),
                    "option_kind": list(p.kinds()),
                    "scenario_price": [list(v) for v in p.scenarios],
                }
                if p.S
                else {}
            ),
            "epoch": p.epoch,
            "params_meta": p.meta,
            "totals_in": self.totals_in,
            "blinding_in": self.blinding_in,
            "blinding_out": self.blinding_out,
        }


def keys_for(n: int, tag: int = 1) -> list[int]:
    return sorted(poseidon([tag, i]) for i in range(n))


# --------------------------------------------------------------------------
# test data (K = 2 assets, M = 2 markets)

# Boundary parameters: aw = 10000, lw = 10000, mmr = 0 and mmr = 10000 are all
# allowed, and small prices make a health of exactly 0 or -1 easy to build.
SMALL = Params(price=(1, 2), aw=(9999, 10000), lw=(10001, 10000), mark=(3, 2), mmr=(10000, 0))
# Extreme parameters: maximal prices, aw = 0, lw = 2^16 - 1.
LARGE = Params(price=(P_MAX, P_MAX - 1), aw=(0, 10000), lw=(65535, 10000), mark=(P_MAX, P_MAX - 2), mmr=(5000, 0))

HEALTH_ZERO = (-20000, 10001, 0, 0)  # -20000*10001 + 10001*2*10000 = 0
HEALTH_MINUS_ONE = (-10001, 5001, 0, 0)  # -10001*10001 + 5001*2*10000 = -1

SMALL_ACCOUNTS = [
    (0, 0, 0, 0),  # padding account
    HEALTH_ZERO,  # exactly at maintenance: accepted
    (100, 0, -5, 7),
    (0, MAX, MAX, -((1 << 62) - 1)),  # largest balance and long position
]
LARGE_ACCOUNTS = [
    (0, MIN, MAX, MAX),  # smallest balance: |health terms| ~ 2^141
    (-1, 7, 0, 0),
    (MAX, 2, -1, 0),
    (0, 0, 0, 0),
]


def small_batch() -> Batch:
    return Batch(SMALL, list(SMALL_ACCOUNTS), keys_for(4), totals_in=[0] * 12, blinding_in=0)


def large_batch() -> Batch:
    # A later batch: totals_in from an earlier batch.
    return Batch(LARGE, list(LARGE_ACCOUNTS), keys_for(4, tag=2), totals_in=batch_totals(SMALL_ACCOUNTS, SMALL))


def test_reference_data_is_what_the_tests_claim():
    assert health(HEALTH_ZERO, SMALL) == 0
    assert health(HEALTH_MINUS_ONE, SMALL) == -1
    assert all(health(a, SMALL) >= 0 for a in SMALL_ACCOUNTS)
    assert all(health(a, LARGE) >= 0 for a in LARGE_ACCOUNTS)
    # Terms near the 2^143 bound of §3 really occur (here |b P lw| > 2^140).
    assert abs(MIN * LARGE.price[1] * LARGE.lw[1]) > 1 << 140


# --------------------------------------------------------------------------
# fixtures


@pytest.fixture(scope="module")
def circ22():
    return compile_circuit(2, 2, 4)


@pytest.fixture(scope="module")
def circ44():
    return compile_circuit(4, 4, 4)


def witness(circ, batch: Batch, tmp_path: Path, name: str = "w.wtns") -> list[int]:
    path = compute_witness(circ, batch.circuit_input(), tmp_path / name)
    check_witness(circ.r1cs, path)
    return read_wtns(path)


def accepted(circ, batch: Batch, tmp_path: Path) -> None:
    """The witness generator accepts the batch and its public signals are the reference model's."""
    values = witness(circ, batch, tmp_path)
    assert public_signals(values) == batch.expected_public()


def rejected(circ, batch: Batch, tmp_path: Path, chain: list[str], line_text: str | None = None) -> None:
    """Witness generation must fail with exactly this chain of templates
    (innermost first, as circom reports it) and, if given, the innermost
    failing source line must contain `line_text`: the batch is rejected for
    the reason the test is about, not for an unrelated one."""
    with pytest.raises(CircuitError) as info:
        compute_witness(circ, batch.circuit_input(), tmp_path / "bad.wtns")
    message = str(info.value)
    failures = re.findall(r"Error in template (\w+?)_\d+ line: (\d+)", message)
    assert [name for name, _ in failures] == chain, message
    if line_text is not None:
        source = (circuits_dir() / TEMPLATE_FILES[chain[0]]).read_text().splitlines()
        assert line_text in source[int(failures[0][1]) - 1], message


TEMPLATE_FILES = {"SolvencyBatch": "batch.circom"}
AMOUNT_CHAIN = ["Num2Bits", "SignedAmount", "MarginAccount", "SolvencyBatch"]
PARAM_RANGE_CHAIN = ["Num2Bits", "InRange", "Params", "SolvencyBatch"]
PRICE_CHAIN = ["Num2Bits", "Params", "SolvencyBatch"]


# --------------------------------------------------------------------------
# structure


def test_main_source_and_header(circ22):
    src = main_source(2, 2, 4)
    assert "component main {public [batch_root, acc_in, acc_out]} = SolvencyBatch(2, 2, 4, [1, 1], 0);" in src
    assert "SolvencyBatch(2, 2, 4, [1, 1], 18);" in main_source(2, 2, 4, scenarios=18)
    info = r1cs_info(circ22.r1cs)
    K, M, B = 2, 2, 4
    n = K + M
    assert info["public_inputs"] == 3
    assert info["outputs"] == 0
    assert info["private_inputs"] == B + B * n + 3 * K + 2 * M + 2 + (2 * n + 4) + 2
    assert info["prime"] == R
    sym = read_sym(circ22.sym)
    assert [sym[f"main.{name}"] for name in ("batch_root", "acc_in", "acc_out")] == [1, 2, 3]


def test_main_source_rejects_bad_shapes():
    with pytest.raises(ValueError):
        main_source(2, 2, 6)
    with pytest.raises(ValueError):
        main_source(30, 16, 4)
    with pytest.raises(ValueError):  # brackets and scenarios do not combine (PROTOCOL.md §3.3)
        main_source(2, 2, 4, (3, 1), scenarios=2)
    with pytest.raises(ValueError):
        main_source(2, 2, 4, scenarios=64)


def test_compile_is_cached(circ22):
    again = compile_circuit(2, 2, 4)
    assert again == circ22


# --------------------------------------------------------------------------
# valid batches


@pytest.mark.parametrize("make", [small_batch, large_batch], ids=["boundary-params", "extreme-params"])
def test_valid_batch(circ22, tmp_path, make):
    batch = make()
    values = witness(circ22, batch, tmp_path)
    assert public_signals(values) == batch.expected_public()


def test_valid_batch_k4_m4(circ44, tmp_path):
    p = Params(
        price=(1, 2, P_MAX, 50_000 * 10**4),
        aw=(10000, 9999, 0, 9000),
        lw=(10000, 10001, 65535, 11000),
        mark=(3, P_MAX, 123_456_789, 2),
        mmr=(0, 10000, 250, 500),
    )
    accounts = [
        (0,) * 8,
        (10**12, -5, 0, 3, 0, 0, -1000, 7),
        (MAX, 0, 0, -(10**6), 0, MAX, 0, 0),
        (-(10**9), 0, 1, 10**6, 0, 0, 10**4, -(10**5)),
    ]
    assert all(health(a, p) >= 0 for a in accounts)
    batch = Batch(p, accounts, keys_for(4, tag=3), totals_in=[(i + 1) * 10**15 for i in range(20)])
    values = witness(circ44, batch, tmp_path)
    assert public_signals(values) == batch.expected_public()


def test_wtns_roundtrip(circ22, tmp_path):
    path = compute_witness(circ22, small_batch().circuit_input(), tmp_path / "a.wtns")
    values = read_wtns(path)
    write_wtns(tmp_path / "b.wtns", values)
    assert (tmp_path / "b.wtns").read_bytes() == path.read_bytes()


# --------------------------------------------------------------------------
# rejected statements


def test_insolvent_by_one_unit_is_counted(circ22, tmp_path):
    # Format 3: an account below maintenance is proved, and counted: below = 1, shortfall = 1.
    batch = small_batch()
    batch.accounts[2] = HEALTH_MINUS_ONE
    assert health(HEALTH_MINUS_ONE, SMALL) == -1
    totals = batch_totals(batch.accounts, SMALL)
    assert totals[8:] == [1, 1, 0, 0]
    accepted(circ22, batch, tmp_path)


def test_insolvent_declared_solvent(circ22, tmp_path):
    # The published acc_out opens to totals that do not count the account below maintenance.
    batch = small_batch()
    batch.accounts[2] = HEALTH_MINUS_ONE
    totals = [a + b for a, b in zip(batch.totals_in, batch_totals(batch.accounts, SMALL))]
    totals[8], totals[9] = 0, 0
    batch.public["acc_out"] = acc(SMALL.hash(), batch.shape, totals, batch.blinding_out)
    rejected(circ22, batch, tmp_path, ["SolvencyBatch"], "accOut.acc === acc_out")


def test_amount_two_to_the_64(circ22, tmp_path):
    batch = small_batch()
    u = batch.offsets()
    u[2][1] = 1 << 64
    batch.u = u
    rejected(circ22, batch, tmp_path, AMOUNT_CHAIN)


def test_negative_amount_as_field_element(circ22, tmp_path):
    # -5 given as r - 5 instead of the offset 2^63 - 5.
    batch = small_batch()
    u = batch.offsets()
    u[2][0] = R - 5
    batch.u = u
    rejected(circ22, batch, tmp_path, AMOUNT_CHAIN)


def test_wrong_acc_out(circ22, tmp_path):
    batch = small_batch()
    totals = [a + b for a, b in zip(batch.totals_in, batch_totals(batch.accounts, batch.params))]
    totals[0] += 1  # one more unit of credit than the accounts hold
    batch.public["acc_out"] = acc(batch.params.hash(), batch.shape, totals, batch.blinding_out)
    rejected(circ22, batch, tmp_path, ["SolvencyBatch"], "accOut.acc === acc_out")


def test_wrong_acc_in(circ22, tmp_path):
    batch = large_batch()
    # pretend to start from zero
    batch.public["acc_in"] = acc(batch.params.hash(), batch.shape, [0] * 12, batch.blinding_in)
    rejected(circ22, batch, tmp_path, ["SolvencyBatch"], "accIn.acc === acc_in")


@pytest.mark.parametrize("change", [{"lw": (10000, 10000)}, {"mark": (3, 3)}], ids=["lower-lw", "other-mark"])
def test_unpublished_params_break_the_published_chain(circ22, tmp_path, change):
    # The verifier's acc_in/acc_out commit to the published params (SMALL); the
    # prover uses other (more lenient) params privately: the accumulators cannot match.
    batch = small_batch()
    published = batch.expected_public()
    other = replace(SMALL, **change)
    assert other.hash() != SMALL.hash()
    assert all(health(a, other) >= 0 for a in batch.accounts), "only the params binding may fail"
    batch.params = other
    batch.public.update({"acc_in": published[1], "acc_out": published[2]})
    rejected(circ22, batch, tmp_path, ["SolvencyBatch"], "accIn.acc === acc_in")


def test_wrong_batch_root(circ22, tmp_path):
    batch = small_batch()
    u = batch.offsets()
    leaves = [leaf(k, x) for k, x in zip(batch.keys, u)]
    leaves[1], leaves[2] = leaves[2], leaves[1]
    batch.public["batch_root"] = root(leaves)
    rejected(circ22, batch, tmp_path, ["SolvencyBatch"], "tree.root === batch_root")


@pytest.mark.parametrize(
    "change",
    [
        {"lw": (9999, 10000)},
        {"aw": (9999, 10001)},
        {"mmr": (10001, 0)},
        {"lw": (10001, 65536)},
    ],
    ids=["lw-9999", "aw-10001", "mmr-10001", "lw-2^16"],
)
def test_params_out_of_range(circ22, tmp_path, change):
    batch = small_batch()
    batch.params = replace(SMALL, **change)
    # Only the range check is violated: every account stays solvent under the
    # changed parameters, and params_hash is the honest hash of them.
    assert all(health(a, batch.params) >= 0 for a in batch.accounts)
    rejected(circ22, batch, tmp_path, PARAM_RANGE_CHAIN)


def test_price_two_to_the_64(circ22, tmp_path):
    batch = small_batch()
    batch.params = replace(SMALL, price=(1, 1 << 64))
    assert all(health(a, batch.params) >= 0 for a in batch.accounts)
    rejected(circ22, batch, tmp_path, PRICE_CHAIN)


# --------------------------------------------------------------------------
# forged witnesses: bypass the witness generator, let the R1CS decide


@pytest.fixture
def valid_wtns(circ22, tmp_path):
    path = compute_witness(circ22, small_batch().circuit_input(), tmp_path / "valid.wtns")
    check_witness(circ22.r1cs, path)
    return path


def forged(circ, valid: Path, changes: dict[str, int], tmp_path: Path) -> Path:
    sym = read_sym(circ.sym)
    values = read_wtns(valid)
    for name, value in changes.items():
        values[sym[name]] = value % R
    out = tmp_path / "forged.wtns"
    write_wtns(out, values)
    return out


def test_forged_sign_bit(circ22, valid_wtns, tmp_path):
    # Account 1 holds -20000 of asset 0; claim it is non-negative.
    name = "main.account[1].amount[0].nonneg"
    assert read_wtns(valid_wtns)[read_sym(circ22.sym)[name]] == 0
    bad = forged(circ22, valid_wtns, {name: 1}, tmp_path)
    with pytest.raises(CircuitError):
        check_witness(circ22.r1cs, bad)


def test_forged_health_term(circ22, valid_wtns, tmp_path):
    # Lower one health term of the account at exactly zero health: its health
    # becomes -1, and both the product constraint and the bit decomposition
    # of health notice.
    sym = read_sym(circ22.sym)
    name = "main.account[1].health.linear[0]"
    value = read_wtns(valid_wtns)[sym[name]]
    bad = forged(circ22, valid_wtns, {name: value - 1}, tmp_path)
    with pytest.raises(CircuitError):
        check_witness(circ22.r1cs, bad)


def test_forged_health_bits(circ22, valid_wtns, tmp_path):
    # Claim a different (still in-range) health for the zero-health account by
    # setting its lowest health bit: the decomposition no longer sums to health.
    name = "main.account[1].health.sign.bits.out[0]"
    bad = forged(circ22, valid_wtns, {name: 1}, tmp_path)
    with pytest.raises(CircuitError):
        check_witness(circ22.r1cs, bad)


def test_forged_public_signal(circ22, valid_wtns, tmp_path):
    batch = small_batch()
    totals = [a + b for a, b in zip(batch.totals_in, batch_totals(batch.accounts, batch.params))]
    totals[1] = 0  # hide the debit
    forged_acc = acc(batch.params.hash(), batch.shape, totals, batch.blinding_out)
    bad = forged(circ22, valid_wtns, {"main.acc_out": forged_acc}, tmp_path)
    with pytest.raises(CircuitError):
        check_witness(circ22.r1cs, bad)


def test_unmodified_copy_still_checks(circ22, valid_wtns, tmp_path):
    # Control for the forged tests: rewriting the same values passes.
    out = forged(circ22, valid_wtns, {}, tmp_path)
    check_witness(circ22.r1cs, out)
