"""Forged witnesses: the R1CS of SolvencyBatch itself must say no.

Every attack here bypasses the witness generator (and every Python pre-check)
and builds a complete wire assignment the way a cheating prover would:

* the attacker's inputs (possibly out of range: ``r - x``, ``2^64``, …) go on
  the input wires, and the few signals the attack is about are *forced* to the
  attacker's values (a sign bit, a ``positive_part``, a leaf, a hash-chain
  link, …);
* every Num2Bits output (the only ``<--`` hints in the circuit) is set the
  way circom's ``(in >> i) & 1`` computes it from the attacker's value, unless
  the attack chooses other bits;
* every other signal is recomputed from those, in dataflow order, by
  :class:`Forge`: it evaluates an ``--O0`` build of the same sources (where
  every signal has its own defining constraint; the definitions are learned
  once from an honest run) and maps the values by signal name onto the wires
  of the real ``--O2`` circuit. So all hashes, products, totals and — unless
  the attack pins them — the public signals are consistent with the forgery.
  (``--O2`` folds Poseidon's partial rounds into blocks that no
  one-constraint-at-a-time solver can evaluate; the ``--O0`` detour avoids
  re-implementing Poseidon's internal signals.) Forcing a signal forces every
  plain copy of it (``a <== b``), i.e. exactly the signals ``--O2`` merges
  into one wire. Without any forgery the forger reproduces circom's witness
  generator bit for bit (tested below).

The witness is then judged by the independent checker :mod:`zksolv.r1cs`,
and each test asserts that *every* violated constraint lies in the part of
the circuit that is meant to stop this attack (a regex over the signal names
on the constraint's wires, from the .sym file), so a test cannot pass because
of an incidental inconsistency. ``snarkjs wtns check`` is run on a subset
and must report the same first violated constraint.

Which template/line stops each attack is in the ``stops`` field of the
attack table below; docs/SECURITY.md summarises them. ``--O2`` merges linear
constraints into the quadratic ones, so e.g. the sum constraint of a
Num2Bits (``lc1 === in``) shows up inside the booleanity constraint of the
one bit it eliminated; the regexes name components, not single lines.
"""

from __future__ import annotations

import heapq
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from zksolv.circuit import (
    CircuitError,
    CompiledCircuit,
    check_witness,
    compile_circuit,
    compile_source,
    compute_witness,
    main_source,
    read_sym,
    read_wtns,
    write_wtns,
)
from zksolv.poseidon import poseidon
from zksolv.r1cs import (
    R1CS,
    constraint_wires,
    describe_constraint,
    first_violation,
    is_satisfied,
    load_r1cs,
    unconstrained_wires,
    violations,
    wire_names,
)

from .test_circuits import (
    HEALTH_MINUS_ONE,
    HEALTH_ZERO,
    MAX,
    OFFSET,
    SMALL,
    Batch,
    Params,
    R,
    acc,
    batch_totals,
    equity,
    health,
    keys_for,
    leaf,
    scenario_health,
)

pytestmark = pytest.mark.node

PUBLIC = ("batch_root", "acc_in", "acc_out")


# --------------------------------------------------------------------------
# the compiled circuit, indexed for the forger
#
# The forger works on an --O0 build of the same sources (every signal is a
# wire with its own defining constraint, so the circuit can be evaluated
# forward like the witness generator does) and maps the result by signal
# name onto the wires of the real --O2 circuit, which is what is checked.


@dataclass
class Shape:
    """One SolvencyBatch(K, M, B): the real (--O2) constraint system that is
    judged, and the --O0 evaluation graph the forger uses."""

    circ: CompiledCircuit
    r1cs: R1CS  # --O2: what is checked
    wire: dict[str, int]  # --O2 signal name -> wire
    names: dict[int, list[str]]  # --O2 wire -> signal names
    cwires: list[tuple[int, ...]]  # --O2 constraint -> its wires (without wire 0)
    occurs: list[list[int]]  # --O2 wire -> constraints it occurs in
    g: R1CS  # --O0
    gwire: dict[str, int]  # --O0 signal name -> wire
    gcwires: list[tuple[int, ...]]
    gdef: dict[int, int]  # --O0 wire -> its defining constraint
    gcopy: dict[int, set[int]]  # --O0 copy edges (x <== y), without main inputs
    groups: dict[str, tuple[int, dict[int, int]]]  # Num2Bits component -> (in wire, {bit: wire}) in --O0
    selectors: dict[str, Hint]  # component -> its other `<--` hint (bracket selector, …), in --O0

    @property
    def K(self) -> int:
        return self.circ.K

    @property
    def M(self) -> int:
        return self.circ.M

    @property
    def n(self) -> int:
        return self.circ.K + self.circ.M

    def w(self, name: str) -> int:
        return self.wire[name]


BIT_GROUP = re.compile(
    r"^(main\.account\[\d+\]\.amount\[\d+\]\.bits|main\.account\[\d+\]\.(?:health|equity)\.sign\.bits"
    r"|main\.account\[\d+\]\.scenario\[\d+\]\.(?:healthSign|equitySign)\.bits"
    r"|main\.account\[\d+\]\.worst\.atLeast\[\d+\]|main\.params\.scenarioBits\[\d+\]\[\d+\]"
    r"|main\.params\.(?:priceBits|markBits|floorBits)\[\d+\]"
    r"|main\.params\.(?:aw|lw|mmr|rate)Range\[\d+\]\.(?:above|below)"
    r"|main\.account\[\d+\]\.health\.margin\[\d+\]\.(?:atLeastFloor|belowNext)"
    r"|main\.schedule\[\d+\]\.increasing\[\d+\]|main\.schedule\[\d+\]\.ratesRise\[\d+\]\.(?:above|below))"
    r"\.out\[(\d+)\]$"
)
# The circuit's other `<--` hints: the one-hot bracket selector of BracketMargin, the one-hot
# worst-scenario selector of WorstShortfall and the inverse inside its IsZero.
SELECTOR = re.compile(r"^(main\.account\[\d+\]\.health\.margin\[\d+\])\.selected\[(\d+)\]$")
WORST_SELECTOR = re.compile(r"^(main\.account\[\d+\]\.worst)\.sel\[(\d+)\]$")
INVERSE = re.compile(r"^(main\.account\[\d+\]\.worst\.none)\.inv$")


@dataclass(frozen=True)
class Hint:
    """One `<--` hint other than Num2Bits: the wires it is computed from, its own wires, and what
    the witness generator assigns (`rule` of the values of `depends`)."""

    depends: tuple[int, ...]
    selected: tuple[int, ...]
    rule: Callable[[list[int]], list[int]]

    def honest(self, vals: list[int | None]) -> list[int]:
        return self.rule([vals[w] for w in self.depends])  # type: ignore[misc]


def bracket_rule(values: list[int]) -> list[int]:
    """BracketMargin: 1 for the bracket floor_t ≤ N < floor_{t+1} (values = N, floors…)."""
    n, floors = values[0], values[1:]
    return [int(floors[t] <= n and (t + 1 == len(floors) or n < floors[t + 1])) for t in range(len(floors))]


def worst_rule(values: list[int]) -> list[int]:
    """WorstShortfall: 1 at the first index of the largest counted shortfall."""
    best = max(range(len(values)), key=lambda s: (values[s], -s))
    return [int(s == best) for s in range(len(values))]


def inverse_rule(values: list[int]) -> list[int]:
    """IsZero: in^-1, or 0 for in = 0."""
    return [pow(values[0], -1, R) if values[0] else 0]


def _index(r1cs: R1CS) -> tuple[list[tuple[int, ...]], list[list[int]]]:
    cwires = [tuple(constraint_wires(r1cs, i)) for i in range(r1cs.n_constraints)]
    occurs: list[list[int]] = [[] for _ in range(r1cs.n_wires)]
    for i, ws in enumerate(cwires):
        for w in ws:
            occurs[w].append(i)
    return cwires, occurs


def _solve_one(r1cs: R1CS, i: int, u: int, vals: list[int | None]) -> int | None:
    """The value of wire ``u`` that satisfies constraint ``i`` (every other
    wire known), if ``u`` occurs only in C; else None."""
    parts = []
    for lc in r1cs.constraints[i]:
        k0 = k1 = 0
        for w, c in lc:
            if w == u:
                k1 += c
            else:
                k0 += c * vals[w]  # type: ignore[operator]
        parts.append((k0 % R, k1 % R))
    (a0, a1), (b0, b1), (c0, c1) = parts
    if a1 or b1 or not c1:
        return None
    return (a0 * b0 - c0) * pow(c1, -1, R) % R


def load_shape(K: int, M: int, B: int, tiers: tuple[int, ...] = (), scenarios: int = 0) -> Shape:
    circ = compile_circuit(K, M, B, tiers=tiers, scenarios=scenarios)
    r1cs = load_r1cs(circ.r1cs)
    cwires, occurs = _index(r1cs)
    # wasm=False: the forger evaluates the O0 constraints itself, it never runs this build.
    g_dir = compile_source(
        main_source(K, M, B, tiers, scenarios), wasm=False, label=circ.dir.name.rsplit("-", 1)[0], optimization="O0"
    )
    g_path, gsym_path = g_dir / "main.r1cs", g_dir / "main.sym"
    g = load_r1cs(g_path)
    gwire = read_sym(gsym_path)
    gnames = wire_names(gsym_path)
    gcwires, goccurs = _index(g)
    groups: dict[str, tuple[int, dict[int, int]]] = {}
    for name, w in gwire.items():
        m = BIT_GROUP.match(name)
        if m:
            in_wire, bits = groups.setdefault(m.group(1), (gwire[m.group(1) + ".in"], {}))
            bits[int(m.group(2))] = w
    selected: dict[str, dict[int, int]] = {}
    worst: dict[str, dict[int, int]] = {}
    selectors: dict[str, Hint] = {}
    for name, w in gwire.items():
        m = SELECTOR.match(name)
        if m:
            selected.setdefault(m.group(1), {})[int(m.group(2))] = w
        m = WORST_SELECTOR.match(name)
        if m:
            worst.setdefault(m.group(1), {})[int(m.group(2))] = w
        m = INVERSE.match(name)
        if m:
            selectors[name] = Hint((gwire[f"{m.group(1)}.in"],), (w,), inverse_rule)
    for prefix, wires in selected.items():
        floors = tuple(gwire[f"{prefix}.floor[{t}]"] for t in range(len(wires)))
        selectors[prefix] = Hint(
            (gwire[f"{prefix}.notional"], *floors), tuple(wires[t] for t in range(len(wires))), bracket_rule
        )
    for prefix, wires in worst.items():
        counted = tuple(gwire[f"{prefix}.counted[{s}]"] for s in range(len(wires)))
        selectors[prefix] = Hint(counted, tuple(wires[s] for s in range(len(wires))), worst_rule)
    # Learn the dataflow from an honest-shaped run: inputs known, every other
    # wire (public signals included) solved from the one constraint that
    # leaves it as the only unknown; Num2Bits outputs are hints.
    n_in = g.n_inputs
    vals: list[int | None] = [None] * g.n_wires
    vals[0] = 1
    for w in range(g.n_public + 1, n_in + 1):
        vals[w] = 1
    hinted = {w for _, bits in groups.values() for w in bits.values()}
    hinted |= {w for selector in selectors.values() for w in selector.selected}
    for selector in selectors.values():
        for w in selector.selected:
            vals[w] = 0  # any value: the dataflow below only needs the selector known
    gdef: dict[int, int] = {}
    pending = True
    while pending:
        pending = False
        for in_wire, bits in groups.values():
            if vals[in_wire] is not None and any(vals[w] is None for w in bits.values()):
                for w in bits.values():
                    vals[w] = 0
                pending = True
        unknown = [sum(1 for w in ws if vals[w] is None) for ws in gcwires]
        heap = [i for i, c in enumerate(unknown) if c == 1]
        heapq.heapify(heap)
        while heap:
            i = heapq.heappop(heap)
            if unknown[i] != 1:
                continue
            u = next(w for w in gcwires[i] if vals[w] is None)
            if u in hinted:
                continue
            value = _solve_one(g, i, u, vals)
            if value is None:
                continue
            vals[u] = value
            gdef[u] = i
            pending = True
            for j in goccurs[u]:
                unknown[j] -= 1
                if unknown[j] == 1:
                    heapq.heappush(heap, j)
    missing = [gnames[w] for w, v in enumerate(vals) if v is None]
    assert not missing, f"no definition found for {missing[:5]}"
    gcopy: dict[int, set[int]] = {}
    for u, i in gdef.items():
        a, b, c = g.constraints[i]
        if not a and not b and len(c) == 2 and (c[0][1] + c[1][1]) % R == 0:
            x = c[0][0] if c[1][0] == u else c[1][0]
            if u > n_in and x > n_in:
                gcopy.setdefault(u, set()).add(x)
                gcopy.setdefault(x, set()).add(u)
    return Shape(
        circ,
        r1cs,
        read_sym(circ.sym),
        wire_names(circ.sym),
        cwires,
        occurs,
        g,
        gwire,
        gcwires,
        gdef,
        gcopy,
        groups,
        selectors,
    )


# --------------------------------------------------------------------------
# the forger


def natural_bits(value: int, width: int) -> list[int]:
    """What circom's ``out[i] <-- (in >> i) & 1`` assigns for a field element."""
    value %= R
    return [(value >> i) & 1 for i in range(width)]


BitsFn = Callable[[int, list[int]], list[int]]


class Forge:
    """A cheating prover's witness for ``shape``, built from ``batch``.

    ``set`` changes an input, ``force`` fixes a signal (and every signal that
    is a plain copy of it, i.e. the same --O2 wire) to the attacker's value,
    so its definition becomes a check while everything computed from it is
    recomputed; ``pin`` fixes a public signal to the value the verifier
    expects (unpinned public signals are what the forged witness computes,
    i.e. what the attacker would publish); ``bits`` replaces the natural
    Num2Bits hints of one component.
    """

    def __init__(self, shape: Shape, batch: Batch):
        self.shape = shape
        self.inputs: dict[str, int] = {}
        for key, value in batch.circuit_input().items():
            if key not in PUBLIC:
                self._flatten(f"main.{key}", value)
        self.pinned: dict[str, int] = {}
        self.forced: dict[str, int] = {}
        self.bit_fns: dict[str, BitsFn] = {}

    def _flatten(self, name: str, value) -> None:
        if isinstance(value, (list, tuple)):
            for i, v in enumerate(value):
                self._flatten(f"{name}[{i}]", v)
        else:
            self.inputs[name] = int(value)

    def set(self, name: str, value: int) -> Forge:
        assert name in self.inputs, name
        self.inputs[name] = value % R
        return self

    def get(self, name: str) -> int:
        return self.inputs[name]

    def pin(self, public: str, value: int) -> Forge:
        assert public in PUBLIC
        self.pinned[f"main.{public}"] = value % R
        return self

    def force(self, name: str, value: int) -> Forge:
        assert name in self.shape.gwire, name
        self.forced[name] = value % R
        return self

    def bits(self, group: str, fn: BitsFn) -> Forge:
        assert group in self.shape.groups, group
        self.bit_fns[group] = fn
        return self

    def _copies(self, w: int) -> set[int]:
        seen, todo = {w}, [w]
        while todo:
            for x in self.shape.gcopy.get(todo.pop(), ()):
                if x not in seen:
                    seen.add(x)
                    todo.append(x)
        return seen

    def solve(self) -> list[int]:
        sh, g = self.shape, self.shape.g
        vals: list[int | None] = [None] * g.n_wires
        vals[0] = 1
        for name, value in self.inputs.items():
            vals[sh.gwire[name]] = value % R
        fixed: set[int] = set()
        for name, value in self.forced.items():
            for w in self._copies(sh.gwire[name]):
                vals[w] = value
                fixed.add(w)
        # Evaluate every other wire from its own definition, in dataflow order.
        waiting: dict[int, int] = {}
        ready: list[int] = []
        for u, i in sh.gdef.items():
            if vals[u] is None:
                waiting[u] = sum(1 for w in sh.gcwires[i] if w != u and vals[w] is None)
                if waiting[u] == 0:
                    ready.append(u)
        users: dict[int, list[int]] = {}
        for u in waiting:
            for w in sh.gcwires[sh.gdef[u]]:
                if w != u and vals[w] is None:
                    users.setdefault(w, []).append(u)
        groups_left = dict(sh.groups)
        selectors_left = dict(sh.selectors)

        def known(w: int) -> None:
            for u in users.get(w, ()):
                waiting[u] -= 1
                if waiting[u] == 0:
                    ready.append(u)

        while True:
            while ready:
                u = ready.pop()
                value = _solve_one(g, sh.gdef[u], u, vals)
                assert value is not None
                vals[u] = value
                known(u)
            progressed = False
            for group, (in_wire, bit_wires) in list(groups_left.items()):
                if vals[in_wire] is None:
                    continue
                del groups_left[group]
                progressed = True
                bits = natural_bits(vals[in_wire], len(bit_wires))  # type: ignore[arg-type]
                if group in self.bit_fns:
                    bits = self.bit_fns[group](vals[in_wire], bits)  # type: ignore[arg-type]
                for i, w in bit_wires.items():
                    if w not in fixed:
                        vals[w] = bits[i] % R
                        known(w)
            for prefix, selector in list(selectors_left.items()):
                if any(vals[w] is None for w in selector.depends):
                    continue
                del selectors_left[prefix]
                progressed = True
                for w, bit in zip(selector.selected, selector.honest(vals)):
                    if w not in fixed:
                        vals[w] = bit
                        known(w)
            if not progressed:
                break
        for name, value in self.pinned.items():
            vals[sh.gwire[name]] = value
        out = [1] * sh.r1cs.n_wires
        for w in range(1, sh.r1cs.n_wires):
            value = vals[sh.gwire[sh.names[w][0]]]
            assert value is not None, f"forger could not compute {sh.names[w][0]}"
            out[w] = value
        return out


# --------------------------------------------------------------------------
# test data

P = SMALL  # price (1, 2), aw (9999, 10000), lw (10001, 10000), mark (3, 2), mmr (10000, 0)

BASE_ACCOUNTS = [
    (0, 0, 0, 0),  # a padding account
    HEALTH_ZERO,  # (-20000, 10001, 0, 0): exactly at maintenance
    (-5000, 10**6, -5, 7),  # debt, collateral, a short and a long
    (0, MAX, 1000, -1000),  # the largest balance
]


def base_batch(**changes) -> Batch:
    batch = Batch(P, list(BASE_ACCOUNTS), keys_for(4, tag=7), totals_in=[0] * 12, blinding_in=0)
    for k, v in changes.items():
        setattr(batch, k, v)
    return batch


def with_account(batch: Batch, a: int, amounts: tuple[int, ...]) -> Batch:
    accounts = list(batch.accounts)
    accounts[a] = amounts
    return replace(batch, accounts=accounts)


def bankrupt_batch() -> Batch:
    """Account 2 owes 10^6 of asset 0 and holds 5 of asset 1: negative equity (and below maintenance)."""
    return with_account(base_batch(), 2, (-(10**6), 5, 0, 0))


def insolvent_batch() -> Batch:
    """Account 2 has health exactly -1 (it would pass only with a forgery)."""
    return with_account(base_batch(), 2, HEALTH_MINUS_ONE)


# Junk collateral: asset 1 is published with asset weight 0.
JUNK = Params(price=(50_000, 1), aw=(9000, 0), lw=(11000, 65535), mark=(3, 2), mmr=(500, 500))


def junk_batch() -> Batch:
    accounts = [(0, 0, 0, 0), (-1, 10**9, 0, 0), (2, 0, 0, 0), (0, 5, 0, 0)]  # 1: a dummy borrowing 1 BTC
    return Batch(JUNK, accounts, keys_for(4, tag=8), totals_in=[0] * 12, blinding_in=0)


P44 = Params(
    price=(1, 2, (1 << 64) - 1, 50_000 * 10**4),
    aw=(10000, 9999, 0, 9000),
    lw=(10000, 10001, 65535, 11000),
    mark=(3, 5, 123_456_789, 2),
    mmr=(0, 10000, 250, 500),
)


def batch44() -> Batch:
    accounts = [
        (0,) * 8,
        (10**12, -5, 0, 3, 0, 0, -1000, 7),
        (MAX, 0, 0, -(10**6), 0, MAX // 10**4, 0, 0),
        (-(10**9), 0, 1, 10**6, 0, 0, 10**4, -(10**5)),
    ]
    return Batch(P44, accounts, keys_for(4, tag=9), totals_in=[(i + 1) * 10**15 for i in range(20)])


P11 = Params(price=(3,), aw=(9000,), lw=(11000,), mark=(5,), mmr=(500,))


def batch11() -> Batch:
    return Batch(P11, [(1000, -10), (0, 0)], keys_for(2, tag=10), totals_in=[0] * 8, blinding_in=0)


# Market 0 tiered (PROTOCOL.md §3.1): brackets at notional 0 / 30 / 300 / 3000, 100 / 200 / 500 / 1000 bps.
P_TIERED = Params(
    price=(1, 2),
    aw=(9999, 10000),
    lw=(10001, 10000),
    mark=(3, 2),
    mmr=(100, 0),
    brackets=(((30, 200), (300, 500), (3000, 1000)), ()),
)


def tiered_batch() -> Batch:
    # N = 0, 33 (bracket 1, short), 3003 (bracket 3, short, below maintenance), 450 (bracket 2, long, solvent)
    accounts = [(0, 0, 0, 0), (0, 0, -11, 0), (0, 0, -1001, 0), (10**6, 0, 150, 0)]
    return Batch(P_TIERED, accounts, keys_for(4, tag=11), totals_in=[0] * 12, blinding_in=0)


# Scenario margin (PROTOCOL.md §3.3): asset 0 a stablecoin, asset 1 the underlying, market 0 its perp,
# market 1 a put on it (an option series: kind 1, rate 0). Scenario 1: the underlying falls (put up),
# scenario 2: it rises (put down).
P_SCEN = Params(
    price=(1, 20),
    aw=(10000, 9000),
    lw=(10000, 11000),
    mark=(20, 2),
    mmr=(500, 0),
    kind=(0, 1),
    scenarios=((1, 14, 14, 12), (1, 26, 26, 1)),
)


def scenario_batch() -> Batch:
    accounts = [
        (0, 0, 0, 0),  # padding (cross)
        (300, 0, -10, 0),  # cross, short perp against cash: solvent now and in both scenarios
        (28, 10, -10, 0),  # portfolio: spot hedged by a short perp; the flat rates would call it below
        (30, 0, 0, -10),  # portfolio: a naked short put, solvent now, below in scenario 1
    ]
    return Batch(P_SCEN, accounts, keys_for(4, tag=12), totals_in=[0] * 20, blinding_in=0, portfolio=[0, 0, 1, 1])


def test_reference_data():
    for batch in (base_batch(), batch44(), batch11()):
        assert all(health(a, batch.params) >= 0 for a in batch.accounts)
    assert health(insolvent_batch().accounts[2], P) == -1
    assert [health(a, JUNK) >= 0 for a in junk_batch().accounts] == [True, False, True, True]
    assert health(junk_batch().accounts[1], replace(JUNK, aw=(9000, 10000))) >= 0  # saved by a raised junk weight
    hedged, naked = scenario_batch().accounts[2:]
    assert health(hedged, P_SCEN, 0) < 0 <= health(hedged, P_SCEN, 1)  # portfolio margin nets the hedge
    assert scenario_health(naked, P_SCEN, (*P_SCEN.price, *P_SCEN.mark), 1) >= 0  # fine at today's prices …
    assert scenario_health(naked, P_SCEN, P_SCEN.scenarios[0], 1) < 0  # … not in scenario 1
    assert scenario_health(naked, P_SCEN, P_SCEN.scenarios[1], 1) >= 0


# --------------------------------------------------------------------------
# fixtures

SHAPES = {"224": (2, 2, 4), "444": (4, 4, 4), "112": (1, 1, 2), "224t": (2, 2, 4, (4, 1)), "224s": (2, 2, 4, (), 2)}


@pytest.fixture(scope="session")
def shapes() -> dict[str, Shape]:
    return {key: load_shape(*dims) for key, dims in SHAPES.items()}


@pytest.fixture(scope="session")
def sh(shapes) -> Shape:
    return shapes["224"]


BASES: dict[str, Callable[[], Batch]] = {
    "224": base_batch,
    "444": batch44,
    "112": batch11,
    "224t": tiered_batch,
    "224s": scenario_batch,
}


@pytest.fixture(scope="session")
def generated(shapes, tmp_path_factory) -> dict[str, list[int]]:
    """The honest witnesses from circom's own witness generator."""
    folder = tmp_path_factory.mktemp("generated")
    out = {}
    for key, make in BASES.items():
        path = compute_witness(shapes[key].circ, make().circuit_input(), folder / f"{key}.wtns")
        out[key] = read_wtns(path)
    return out


# --------------------------------------------------------------------------
# judging


def explain(shape: Shape, witness: list[int], index: int) -> str:
    return describe_constraint(shape.r1cs, index, shape.names, witness)


def touches(shape: Shape, index: int, pattern: re.Pattern[str]) -> bool:
    return any(pattern.search(n) for w in shape.cwires[index] for n in shape.names.get(w, []))


def assert_rejected_by(shape: Shape, witness: list[int], where: str, rows: int | None = None) -> int:
    """The R1CS rejects the witness, every violated constraint touches a
    signal matching ``where`` (the component that stops the attack), and at
    most ``rows`` constraints are violated (the forgery is consistent
    everywhere else)."""
    bad = violations(shape.r1cs, witness)
    assert bad, "forged witness satisfies the R1CS: soundness bug"
    assert rows is None or len(bad) <= rows, [explain(shape, witness, i) for i in bad[:4]]
    assert not is_satisfied(shape.r1cs, witness)
    pattern = re.compile(where)
    stray = [i for i in bad if not touches(shape, i, pattern)]
    assert not stray, (
        f"{len(stray)} of {len(bad)} violations outside /{where}/, e.g. {explain(shape, witness, stray[0])}"
    )
    assert first_violation(shape.r1cs, witness) == bad[0]
    return bad[0]


# --------------------------------------------------------------------------
# bit tricks


def set_bit(i: int, b: int) -> BitsFn:
    def fn(value: int, bits: list[int]) -> list[int]:
        bits[i] = b
        return bits

    return fn


def wire_bits(sh: Shape, group: str) -> list[int]:
    """The bits of a Num2Bits component that are --O2 wires (--O2 eliminates
    one bit through the sum constraint, and bit 63 of an amount is `nonneg`):
    only these can be forged independently."""
    out = [i for i in range(len(sh.groups[group][1])) if f"{group}.out[{i}]" in sh.wire]
    if group.endswith(".bits") and group[: -len(".bits")] + ".nonneg" in sh.wire:
        out.append(63)
    return sorted(out)


def whole_value_in_lowest_bit(sh: Shape, group: str) -> BitsFn:
    """All bits 0 except the lowest bit wire j, which gets value / 2^j: the
    sum constraint holds, booleanity of bit j does not."""
    j = wire_bits(sh, group)[0]

    def fn(value: int, bits: list[int]) -> list[int]:
        out = [0] * len(bits)
        out[j] = value * pow(2, -j, R) % R
        return out

    return fn


def bit_two(sh: Shape, group: str) -> BitsFn:
    """Set one bit to 2 and keep the weighted sum: a bit i = 0 under a bit
    i+1 = 1 becomes (2, 0); otherwise (b_i + 2, b_{i+1} - 1)."""
    have = set(wire_bits(sh, group))

    def fn(value: int, bits: list[int]) -> list[int]:
        pairs = [i for i in sorted(have) if i + 1 in have]
        pick = next((i for i in pairs if (bits[i], bits[i + 1]) == (0, 1)), pairs[0])
        bits[pick] += 2
        bits[pick + 1] -= 1
        return bits

    return fn


# --------------------------------------------------------------------------
# the attacks

A = "main.account"


def amount_group(a: int, i: int) -> str:
    return rf"^main\.account\[{a}\]\.amount\[{i}\]\.(bits|nonneg)"


def health_group(a: int) -> str:
    return rf"^main\.account\[{a}\]\.health\.sign"


def leaf_group(*accounts: int) -> str:
    acc_alt = "|".join(str(a) for a in accounts)
    return rf"^main\.account\[({acc_alt})\]\.(leaf|hash\.)"


ACC_IN = r"^main\.(acc_in$|accIn\.)"
ACC_OUT = r"^main\.(acc_out$|accOut\.)"
TREE_ROOT = r"^main\.(batch_root$|tree\.)"


def pos_group(a: int, i: int) -> str:
    # positive_part <== nonneg * value (range.circom:48); --O2 writes the
    # last account's pos through the accOut total it is summed into.
    return rf"^main\.(account\[{a}\]\.(pos\[{i}\]|amount\[{i}\]\.nonneg)$|accOut\.totals\[{2 * i}\]$)"


@dataclass(frozen=True)
class Attack:
    name: str
    stops: str  # template / line that rejects it
    where: str  # regex every violated constraint must touch
    build: Callable[[Shape], list[int]]
    shape: str = "224"
    rows: int | None = 2  # at most this many violated rows (None: any)


ATTACKS: list[Attack] = []


def attack(name: str, stops: str, where: str, shape: str = "224", rows: int | None = 2):
    def deco(fn: Callable[[Shape], list[int]]):
        ATTACKS.append(Attack(name, stops, where, fn, shape, rows))
        return fn

    return deco


def honest_publics(batch: Batch) -> dict[str, int]:
    return dict(zip(PUBLIC, batch.expected_public()))


def pin_all(f: Forge, batch: Batch, *names: str) -> Forge:
    pub = honest_publics(batch)
    for n in names or PUBLIC:
        f.pin(n, pub[n])
    return f


SIGNED = "SignedAmount: Num2Bits(64) of u (range.circom:35-37; bitify.circom:33,38)"

# ---- amounts (SignedAmount) ------------------------------------------------


@attack("negative_balance_as_r_minus_x", SIGNED, amount_group(3, 0))
def _(sh):
    # The balance -5 written as the field element r - 5 instead of its offset
    # 2^63 - 5; the bits are what `<--` computes from r - 5.
    return Forge(sh, base_batch()).set("main.amount[3][0]", R - 5).solve()


@attack("negative_balance_as_r_minus_x_sum_kept_by_nonboolean_bit", SIGNED, amount_group(3, 0))
def _(sh):
    # The attacker keeps sum(bits * 2^i) = u by putting all of r - 5 into one
    # bit: only the booleanity of that bit is left to fail.
    f = Forge(sh, base_batch()).set("main.amount[3][0]", R - 5)
    return f.bits(f"{A}[3].amount[0].bits", whole_value_in_lowest_bit(sh, f"{A}[3].amount[0].bits")).solve()


@attack("amount_two_to_the_64", SIGNED, amount_group(3, 0))
def _(sh):
    # u = 2^64: a balance of 2^63, one above the largest.
    return Forge(sh, base_batch()).set("main.amount[3][0]", 1 << 64).solve()


@attack("leaf_alias_carry_u_plus_2_64_hides_insolvent_account", SIGNED, amount_group(2, 0))
def _(sh):
    # The committed leaf (root pinned) holds an insolvent account (health -1).
    # (u0 + 2^64, u1 - 1) packs to the same e0 = u0 + 2^64 u1 + 2^128 u2, so the
    # leaf is unchanged, but slot 0 now reads as a credit of ~2^64.
    batch = insolvent_batch()
    f = Forge(sh, batch).pin("batch_root", honest_publics(batch)["batch_root"])
    f.set("main.amount[2][0]", f.get("main.amount[2][0]") + (1 << 64))
    f.set("main.amount[2][1]", f.get("main.amount[2][1]") - 1)
    return f.solve()


@attack("leaf_alias_carry_across_two_slots_u_plus_2_128", SIGNED, amount_group(2, 0))
def _(sh):
    # (u0 + 2^128, u1, u2 - 1): same packing, same pinned root.
    batch = insolvent_batch()
    f = Forge(sh, batch).pin("batch_root", honest_publics(batch)["batch_root"])
    f.set("main.amount[2][0]", f.get("main.amount[2][0]") + (1 << 128))
    f.set("main.amount[2][2]", f.get("main.amount[2][2]") - 1)
    return f.solve()


# The wrapped amount also breaks account 2's equity sign decomposition (format 3): a second line.
@attack(
    "health_product_wraps_mod_r_via_out_of_range_position",
    SIGNED,
    amount_group(2, 2) + r"|^main\.account\[2\]\.equity\.sign\.",
)
def _(sh):
    # Insolvent account (health -1): give it a "position" s with s * X = 1 mod r
    # (and the sign bit 0 so positive_part = 0): health wraps to exactly 0.
    f = Forge(sh, insolvent_batch())
    X0 = P.mark[0] * (10000 + P.mmr[0])
    f.set("main.amount[2][2]", pow(X0, -1, R) + OFFSET)
    return f.bits(f"{A}[2].amount[2].bits", set_bit(63, 0)).solve()


@attack("debt_sign_bit_flipped", SIGNED, amount_group(1, 0))
def _(sh):
    # The -20000 debt of account 1 claimed non-negative: positive_part = value,
    # so the debt is weighted with aw instead of lw and leaves the debit total.
    return Forge(sh, base_batch()).bits(f"{A}[1].amount[0].bits", set_bit(63, 1)).solve()


@attack("short_position_sign_bit_flipped", SIGNED, amount_group(2, 2))
def _(sh):
    # The short -5 claimed long: the margin -|s| Q mmr turns into +|s| Q mmr.
    return Forge(sh, base_batch()).bits(f"{A}[2].amount[2].bits", set_bit(63, 1)).solve()


@attack("long_position_sign_bit_cleared", SIGNED, amount_group(3, 2))
def _(sh):
    # The long 1000 claimed negative: no margin, and it leaves the long open interest.
    return Forge(sh, base_batch()).bits(f"{A}[3].amount[2].bits", set_bit(63, 0)).solve()


# ---- parameters (Params, InRange) -------------------------------------------

PRICE = "Params: Num2Bits(64) of price (params.circom:57-59)"
MARK = "Params: Num2Bits(64) of mark_price (params.circom:78-80)"


def in_range(kind: str, k: int, side: str = r"(above|below)") -> str:
    return rf"^main\.params\.{kind}Range\[{k}\]\.{side}\."


def published(f: Forge, batch: Batch) -> Forge:
    """acc_in as the verifier computes it from the published params (acc_0 of batch 0)."""
    return f.pin("acc_in", honest_publics(batch)["acc_in"])


@attack("negative_price_aliasing_asset_packing", PRICE, r"^main\.params\.priceBits\[0\]\.")
def _(sh):
    # (P - 2^64 mod r, aw + 1, lw) packs to the same asset_0 = P + 2^64 aw + 2^80 lw,
    # so params_hash and acc_in are the published ones; a "negative" price turns
    # every debt of asset 0 into collateral.
    batch = base_batch()
    f = published(Forge(sh, batch), batch)
    f.set("main.price[0]", P.price[0] - (1 << 64)).set("main.asset_weight[0]", P.aw[0] + 1)
    return f.solve()


@attack("price_two_to_the_64", PRICE, r"^main\.params\.priceBits\[1\]\.")
def _(sh):
    # Published params with a scaled price of 2^64 (the verifier's acc_0 hashes it).
    return Forge(sh, base_batch()).set("main.price[1]", 1 << 64).solve()


@attack(
    "price_wraps_debt_to_credit_mod_r", PRICE, r"^main\.params\.priceBits\[0\]\.|^main\.account\[2\]\.equity\.sign\."
)
def _(sh):
    # Only account 2 holds asset 0 (a debt -D): a price P' with -D P' lw = 1 mod r
    # makes its health exactly 1.
    batch = with_account(with_account(base_batch(), 1, (0, 10001, 0, 0)), 2, (-7, 0, 0, 0))
    f = Forge(sh, batch)
    f.set("main.price[0]", -pow(7 * P.lw[0], -1, R))
    return f.solve()


@attack("mark_aliasing_market_packing", MARK, r"^main\.params\.markBits\[0\]\.")
def _(sh):
    # (Q + 2^64, mmr - 1) packs to the same market_0; all positions in market 0
    # are long, so a huge mark only helps.
    batch = with_account(base_batch(), 2, (-5000, 10**6, 5, 7))
    f = published(Forge(sh, batch), batch)
    f.set("main.mark_price[0]", P.mark[0] + (1 << 64)).set("main.mmr[0]", P.mmr[0] - 1)
    return f.solve()


@attack(
    "asset_weight_aliasing_asset_packing",
    "InRange(0, 10000) of asset_weight (params.circom:64-65; range.circom:76-82)",
    in_range("aw", 0),
)
def _(sh):
    # (P, aw + 2^16, lw - 1) packs to the same asset_0: collateral at 755 %.
    batch = base_batch()
    f = published(Forge(sh, batch), batch)
    f.set("main.asset_weight[0]", P.aw[0] + (1 << 16)).set("main.liability_weight[0]", P.lw[0] - 1)
    return f.solve()


@attack(
    "asset_weight_above_10000",
    "InRange(0, 10000).below of asset_weight (range.circom:80-82)",
    in_range("aw", 1, "below"),
)
def _(sh):
    return Forge(sh, base_batch()).set("main.asset_weight[1]", 10001).solve()


@attack(
    "asset_weight_wraps_to_r_minus_1",
    "InRange(0, 10000).above of asset_weight (range.circom:76-78)",
    in_range("aw", 0, "above"),
)
def _(sh):
    # r - 1 passes "10000 - aw < 2^14" alone (10000 - (r - 1) = 10001): the
    # lower side is what rejects it.
    return Forge(sh, base_batch()).set("main.asset_weight[0]", R - 1).solve()


@attack(
    "liability_weight_9999",
    "InRange(10000, 65535).above of liability_weight (range.circom:76-78)",
    in_range("lw", 0, "above"),
)
def _(sh):
    return Forge(sh, base_batch()).set("main.liability_weight[0]", 9999).solve()


@attack(
    "liability_weight_2_16",
    "InRange(10000, 65535).below of liability_weight (range.circom:80-82)",
    in_range("lw", 1, "below"),
)
def _(sh):
    return Forge(sh, base_batch()).set("main.liability_weight[1]", 1 << 16).solve()


@attack("mmr_above_10000", "InRange(0, 10000).below of mmr (range.circom:80-82)", in_range("mmr", 1, "below"))
def _(sh):
    return Forge(sh, base_batch()).set("main.mmr[1]", 10001).solve()


@attack("mmr_negative_adds_margin", "InRange(0, 10000).above of mmr (range.circom:76-78)", in_range("mmr", 0, "above"))
def _(sh):
    # mmr = -100: the margin term -|s| Q mmr becomes a bonus.
    return Forge(sh, base_batch()).set("main.mmr[0]", R - 100).solve()


# ---- Num2Bits with a bit set to 2 (sum kept) -------------------------------------

BIT_TWO = {
    "amount": (f"{A}[2].amount[1].bits", "Num2Bits(64) in SignedAmount"),
    "health": (f"{A}[3].health.sign.bits", "Num2Bits(L+1) in MaintenanceHealth's SignSplit"),
    "equity": (f"{A}[3].equity.sign.bits", "Num2Bits(L+1) in AccountEquity's SignSplit"),
    "price": ("main.params.priceBits[1]", "Num2Bits(64) of price in Params"),
    "mark": ("main.params.markBits[1]", "Num2Bits(64) of mark in Params"),
    "aw_above": ("main.params.awRange[0].above", "InRange(0,10000).above"),
    "aw_below": ("main.params.awRange[0].below", "InRange(0,10000).below"),
    "lw_above": ("main.params.lwRange[0].above", "InRange(10000,65535).above"),
    "lw_below": ("main.params.lwRange[0].below", "InRange(10000,65535).below"),
    "mmr_above": ("main.params.mmrRange[0].above", "InRange(0,10000).above"),
    "mmr_below": ("main.params.mmrRange[1].below", "InRange(0,10000).below"),
}

for _key, (_group, _where) in BIT_TWO.items():

    def _make(group=_group):
        def build(sh):
            return Forge(sh, base_batch()).bits(group, bit_two(sh, group)).solve()

        return build

    ATTACKS.append(
        Attack(
            f"bit_set_to_2[{_key}]",
            f"{_where}: out[i]*(out[i]-1) === 0 (bitify.circom:33)",
            "^" + re.escape(_group) + r"\.out\[",
            _make(),
        )
    )


# ---- health (MaintenanceHealth, HealthCoefficients) ------------------------------

HEALTH = "MaintenanceHealth: SignSplit(144+ceil(log2 n)) of health (sign.circom; health.circom)"
SHORTFALL = "SignSplit: negative_part <== (nonneg - 1) * in (sign.circom)"
EQUITY = "AccountEquity: SignSplit(127+ceil(log2 n)) of equity (sign.circom; health.circom)"


def sign_bit_flipped(sh: Shape, group: str, width: int) -> BitsFn:
    """Flip the sign bit (bit `width` of x + 2^width) and keep the other bits: what a prover who wants
    the other sign writes; the weighted sum no longer equals x + 2^width."""

    def fn(value: int, bits: list[int]) -> list[int]:
        bits[width] = 1 - bits[width]
        return bits

    return fn


def sign_bit_set_sum_kept(sh: Shape, group: str, width: int) -> BitsFn:
    """Sign bit forced to 1 and the sum kept by putting the remainder, a field element, into bit 0."""

    def fn(value: int, bits: list[int]) -> list[int]:
        out = [0] * len(bits)
        out[width] = 1
        out[0] = (value - (1 << width)) % R
        return out

    return fn


HEALTH_WIDTH = 144 + 2  # n = 4 in the 224 shape: ceil(log2 4) = 2
EQUITY_WIDTH = 127 + 2


@attack("insolvent_declared_solvent_sign_bit_flipped", HEALTH, health_group(2))
def _(sh):
    # Health -1 counted as at or above maintenance: the published below-count and shortfall drop it.
    g = f"{A}[2].health.sign.bits"
    return Forge(sh, insolvent_batch()).bits(g, sign_bit_flipped(sh, g, HEALTH_WIDTH)).solve()


@attack("insolvent_declared_solvent_sum_kept_by_nonboolean_bit", HEALTH, health_group(2))
def _(sh):
    g = f"{A}[2].health.sign.bits"
    return Forge(sh, insolvent_batch()).bits(g, sign_bit_set_sum_kept(sh, g, HEALTH_WIDTH)).solve()


@attack("solvent_declared_in_liquidation", HEALTH, health_group(1))
def _(sh):
    # An account at exactly zero health counted below maintenance (inflating the count, and with a
    # fake shortfall, the apparent need for the insurance fund).
    batch = with_account(base_batch(), 1, HEALTH_ZERO)
    g = f"{A}[1].health.sign.bits"
    return Forge(sh, batch).bits(g, sign_bit_flipped(sh, g, HEALTH_WIDTH)).solve()


@attack("shortfall_understated", SHORTFALL, rf"^{re.escape(A)}\[2\]\.(health\.sign\.negative_part|shortfall)$")
def _(sh):
    # The account is counted below maintenance but its shortfall is published as 0.
    return Forge(sh, insolvent_batch()).force(f"{A}[2].health.sign.negative_part", 0).solve()


@attack("bankrupt_account_hidden", EQUITY, rf"^{re.escape(A)}\[2\]\.equity\.sign")
def _(sh):
    # The bankrupt account counted as not bankrupt: its bad debt disappears from the published sum.
    g = f"{A}[2].equity.sign.bits"
    return Forge(sh, bankrupt_batch()).bits(g, sign_bit_flipped(sh, g, EQUITY_WIDTH)).solve()


@attack("bad_debt_understated", SHORTFALL, rf"^{re.escape(A)}\[2\]\.(equity\.sign\.negative_part|bad_debt)$")
def _(sh):
    honest_bad_debt = -equity(bankrupt_batch().accounts[2], P)
    assert honest_bad_debt > 0
    return Forge(sh, bankrupt_batch()).force(f"{A}[2].equity.sign.negative_part", honest_bad_debt - 1).solve()


@attack("below_count_off_by_one", "SolvencyBatch: accOut.acc === acc_out (batch.circom)", ACC_OUT)
def _(sh):
    # acc_out opens to totals whose below-maintenance count is one less than the batch's.
    batch = insolvent_batch()
    totals = [a + b for a, b in zip(batch.totals_in, batch_totals(batch.accounts, batch.params))]
    totals[8] -= 1
    return (
        pin_all(Forge(sh, batch), batch, "acc_in")
        .pin("acc_out", acc(P.hash(), batch.shape, totals, batch.blinding_out))
        .solve()
    )


@attack(
    "insolvent_health_product_forged",
    "MaintenanceHealth: linear <== value * PL (health.circom:91)",
    rf"^{re.escape(A)}\[2\]\.health\.linear\[0\]$",
)
def _(sh):
    f = Forge(sh, insolvent_batch())
    honest = (HEALTH_MINUS_ONE[0] % R) * P.price[0] * P.lw[0]
    return f.force(f"{A}[2].health.linear[0]", honest + 1).solve()  # health -1 -> 0


@attack(
    "margin_requirement_dropped_kink_forged",
    "MaintenanceHealth: kink <== positive_part * QM (health.circom:97)",
    rf"^{re.escape(A)}\[2\]\.health\.kink\[2\]$",
)
def _(sh):
    # A long of 1 at mmr 100 % leaves health at -1; kink := 0 removes the margin.
    batch = with_account(base_batch(), 2, (-10001, 5001, 1, 0))
    assert health(batch.accounts[2], P) == -1
    return Forge(sh, batch).force(f"{A}[2].health.kink[2]", 0).solve()


@attack(
    "liability_coefficient_forged",
    "HealthCoefficients: PL <== price * lw, PD <== PA - PL (health.circom:41-43)",
    r"^main\.account\[0\]\.(PL|PD)\[0\]\[0\]$",
)
def _(sh):
    # PL = P * 10000 instead of P * 10001: the insolvent account passes.
    return Forge(sh, insolvent_batch()).force(f"{A}[0].PL[0][0]", P.price[0] * 10000).solve()


@attack(
    "margin_coefficient_forged",
    "HealthCoefficients: QM <== mark * mmr, X = 10000 Q + QM (health.circom:46-47)",
    r"^main\.account\[0\]\.X\[0\]$",
)
def _(sh):
    # X = 10000 Q (margin rate 0) for the account kept alive only by dropping its margin.
    # --O2 keeps X and writes QM as X - 10000 Q, so the attacker's QM follows X.
    batch = with_account(base_batch(), 2, (-10001, 5001, 1, 0))
    f = Forge(sh, batch).force(f"{A}[0].X[0]", 10000 * P.mark[0])
    return f.force("main.coeff[0].QM[0]", 0).solve()


# ---- totals (positive_part, accumulators) --------------------------------------

POS = "SignedAmount: positive_part <== nonneg * value (range.circom:48)"


@attack("credit_hidden_positive_part_zeroed", POS, pos_group(2, 1))
def _(sh):
    # Drop account 2's 10^6 credit from the liabilities (credit total).
    return Forge(sh, base_batch()).force(f"{A}[2].pos[1]", 0).solve()


@attack("credit_stolen_positive_part_of_a_debt", POS, pos_group(2, 0))
def _(sh):
    # The -5000 debt reported as a +5000 credit.
    return Forge(sh, base_batch()).force(f"{A}[2].pos[0]", 5000).solve()


@attack("debit_forged_to_zero", POS, pos_group(2, 0))
def _(sh):
    # positive_part := value, so neg = positive_part - value = 0.
    return Forge(sh, base_batch()).force(f"{A}[2].pos[0]", -5000).solve()


@attack("long_open_interest_forged", POS, pos_group(2, 3))
def _(sh):
    return Forge(sh, base_batch()).force(f"{A}[2].pos[3]", 0).solve()


@attack("short_open_interest_forged", POS, pos_group(2, 2))
def _(sh):
    return Forge(sh, base_batch()).force(f"{A}[2].pos[2]", -5).solve()


@attack("credit_sum_wraps_to_zero", POS, pos_group(1, 1))
def _(sh):
    # Account 1's positive part chosen so the batch's asset-1 credit sums to 0 mod r.
    others = 10**6 + MAX
    w = Forge(sh, base_batch()).force(f"{A}[1].pos[1]", -others).solve()
    assert w[sh.w("main.accOut.totals[2]")] == 0  # what acc_out now commits to
    return w


ACCIN = "SolvencyBatch: accIn.acc === acc_in (batch.circom:172)"
ACCOUT = "SolvencyBatch: accOut.acc === acc_out (batch.circom:174)"


@attack("totals_in_changed", ACCIN, ACC_IN)
def _(sh):
    # Start the batch from lower debit totals than the chain carried in.
    batch = base_batch(totals_in=[50, 40, 30, 20, 10, 0, 0, 0, 0, 0, 0, 0])
    f = published(Forge(sh, batch), batch)
    return f.set("main.totals_in[1]", 0).solve()


@attack("totals_in_wraps_the_debit_out", ACCIN, ACC_IN)
def _(sh):
    # totals_in[1] = -(batch debit) so that acc_out carries debit 0.
    batch = base_batch()
    f = published(Forge(sh, batch), batch)
    return f.set("main.totals_in[1]", -batch_totals(batch.accounts, batch.params)[1]).solve()


@attack("blinding_in_changed", ACCIN, ACC_IN)
def _(sh):
    batch = base_batch()
    return published(Forge(sh, batch), batch).set("main.blinding_in", 1).solve()


@attack("blinding_out_changed", ACCOUT, ACC_OUT)
def _(sh):
    batch = base_batch()
    return pin_all(Forge(sh, batch), batch, "acc_out").set("main.blinding_out", 1).solve()


@attack("acc_out_hides_debit", ACCOUT, ACC_OUT)
def _(sh):
    # The published acc_out opens to totals with asset 0's debit set to 0.
    batch = base_batch()
    totals = batch_totals(batch.accounts, batch.params)
    totals[1] = 0
    f = pin_all(Forge(sh, batch), batch)
    return f.pin("acc_out", acc(P.hash(), batch.shape, totals, batch.blinding_out)).solve()


# ---- params binding (acc_in = acc_0 of the published params) --------------------------

PBIND = "SolvencyBatch: params_hash in accIn, accIn.acc === acc_in (accumulator.circom:27; batch.circom:169,172)"


def unpublished(sh: Shape, name: str, value: int, batch: Batch | None = None) -> list[int]:
    batch = batch or base_batch()
    return published(Forge(sh, batch), batch).set(name, value).solve()


@attack("price_not_the_published_one", PBIND, ACC_IN)
def _(sh):
    return unpublished(sh, "main.price[1]", 3)


@attack("mark_not_the_published_one", PBIND, ACC_IN)
def _(sh):
    return unpublished(sh, "main.mark_price[1]", 1)


@attack("liability_weight_lowered", PBIND, ACC_IN)
def _(sh):
    return unpublished(sh, "main.liability_weight[0]", 10000)


@attack("replay_other_epoch", PBIND, ACC_IN)
def _(sh):
    # Params of another epoch (e.g. an old bundle's) against this epoch's acc_0.
    return unpublished(sh, "main.epoch", P.epoch - 86400)


@attack("params_meta_changed", PBIND, ACC_IN)
def _(sh):
    return unpublished(sh, "main.params_meta", P.meta + 1)


@attack("junk_collateral_weight_raised", PBIND, ACC_IN)
def _(sh):
    # Prove the dummy borrower with junk weight 10000 against the published 0.
    return unpublished(sh, "main.asset_weight[1]", 10000, junk_batch())


@attack(
    "params_hash_wire_forged",
    "Params: HashChain(3+K+M) output (params.circom:47,90; hashchain.circom:22-25)",
    r"^main\.(accIn\.params_hash$|params\.)",
)
def _(sh):
    # Unpublished price, but the params_hash wire set to the published hash so
    # both accumulators (acc_in pinned) open correctly.
    batch = base_batch()
    f = published(Forge(sh, batch), batch).set("main.price[1]", 3)
    return f.force("main.accIn.params_hash", P.hash()).solve()


@attack(
    "hashchain_link_forged",
    "HashChain8(22): h[1].inputs[0] <== h[0].out (hashchain.circom)",
    r"^main\.accOut\.commitment\.h\[0\]\.",
    shape="444",
)
def _(sh):
    # K = M = 4: the totals commitment is three Poseidon(8) calls. The first call's output is forged so
    # that acc_out opens to totals with the first credit zeroed.
    batch = batch44()
    totals = [a + b for a, b in zip(batch.totals_in, batch_totals(batch.accounts, batch.params))]
    totals[0] = 0
    xs = [batch.shape, *totals, batch.blinding_out]
    f = Forge(sh, batch).force("main.accOut.commitment.h[0].out", poseidon(xs[:8]))
    w = f.solve()
    assert w[sh.w("main.acc_out")] == acc(P44.hash(), batch.shape, totals, batch.blinding_out)
    return w


# ---- maintenance brackets (BracketMargin, BracketSchedule) ----------------------------
#
# Shape "224t": market 0 has brackets 0 / 30 / 300 / 3000 at 100 / 200 / 500 / 1000 bps (mark 3).

SELECTOR_BOUNDS = "BracketMargin: Num2Bits(127) of N - floor[t] and floor[t+1] - 1 - N (brackets.circom)"


def margin_group(a: int, part: str) -> str:
    return rf"^main\.account\[{a}\]\.health\.margin\[0\]\.{part}"


def one_hot(t: int, n: int = 4) -> list[int]:
    return [int(i == t) for i in range(n)]


def force_selector(f: Forge, a: int, values: list[int]) -> Forge:
    for t, v in enumerate(values):
        f.force(f"{A}[{a}].health.margin[0].selected[{t}]", v)
    return f


@attack("bracket_lower_than_the_notional_allows", SELECTOR_BOUNDS, margin_group(2, "belowNext"), shape="224t")
def _(sh):
    # Account 2 (short 1001, N = 3003, bracket 3 at 10 %) charged bracket 2 (5 %): a smaller
    # margin, a smaller shortfall, everything downstream recomputed and published.
    return force_selector(Forge(sh, tiered_batch()), 2, one_hot(2)).solve()


@attack("bracket_zero_for_a_large_position", SELECTOR_BOUNDS, margin_group(2, "belowNext"), shape="224t")
def _(sh):
    # The flat first rate for the largest position: the bug class of a trusted tier selector.
    return force_selector(Forge(sh, tiered_batch()), 2, one_hot(0)).solve()


@attack(
    "bracket_higher_than_the_notional_declares_a_solvent_account_liquidated",
    SELECTOR_BOUNDS,
    margin_group(3, "atLeastFloor"),
    shape="224t",
)
def _(sh):
    # Account 3 (long 150, N = 450, bracket 2, solvent) overcharged at bracket 3: it would be
    # counted below maintenance with an invented shortfall.
    return force_selector(Forge(sh, tiered_batch()), 3, one_hot(3)).solve()


# --O2 solves `one === 1` for one selector and substitutes it into the four products that use it,
# so a selector that sums to 0 violates those rows (all of them on the selector's wires).
@attack(
    "bracket_selector_none",
    "BracketMargin: one === 1 (brackets.circom)",
    margin_group(2, "selected"),
    shape="224t",
    rows=4,
)
def _(sh):
    # No bracket at all: margin 0.
    return force_selector(Forge(sh, tiered_batch()), 2, [0, 0, 0, 0]).solve()


@attack(
    "bracket_selector_fractional_mix",
    "BracketMargin: selected * (selected - 1) === 0 (brackets.circom)",
    margin_group(2, "selected"),
    shape="224t",
    rows=4,
)
def _(sh):
    # 2·bracket 3 − 1·bracket 2... sums to 1 but is no bracket: booleanity stops it.
    return force_selector(Forge(sh, tiered_batch()), 2, [0, 0, R - 1, 2]).solve()


@attack(
    "bracket_floors_overlap",
    "BracketSchedule: Num2Bits(127) of floor[t] - floor[t-1] - 1 (brackets.circom)",
    r"^main\.schedule\[0\]\.increasing\[2\]\.",
    shape="224t",
)
def _(sh):
    # Floor 2 moved down to floor 1 (30): two brackets start at the same notional.
    return Forge(sh, tiered_batch()).set("main.bracket_floor[1]", 30).solve()


@attack(
    "bracket_rate_falls",
    "BracketSchedule: InRange(0, 10000) of rate[t] - rate[t-1] (brackets.circom)",
    r"^main\.schedule\[0\]\.ratesRise\[3\]\.",
    shape="224t",
)
def _(sh):
    # The top bracket's rate below the one under it: a larger position needing less margin.
    return Forge(sh, tiered_batch()).set("main.bracket_rate[2]", 400).solve()


@attack(
    "bracket_deduction_inflated",
    "BracketSchedule: ded[t] <== ded[t-1] + floor[t] (rate[t] - rate[t-1])",
    r"^main\.(bracket_ded\[2\]|schedule\[0\]\.ded\[3\])$",
    shape="224t",
)
def _(sh):
    # The top bracket's deduction raised by 10^6: every position there needs less margin. (Its
    # defining product is the one row that fails; --O2 names the wire main.bracket_ded[2].)
    honest = 30 * (200 - 100) + 300 * (500 - 200) + 3000 * (1000 - 500)  # d_3 of P_TIERED, §3.1
    return Forge(sh, tiered_batch()).force("main.schedule[0].ded[3]", honest + 10**6).solve()


# ---- leaves and tree ------------------------------------------------------------

LEAF = "AccountLeaf: Poseidon(LEAF_TAG, key, e_0, ...) (leaf.circom:39-51)"
ROOT = "SolvencyBatch: tree.root === batch_root (batch.circom:153; merkle.circom)"


def root_pinned(sh: Shape, batch: Batch, reference: Batch | None = None) -> Forge:
    return Forge(sh, batch).pin("batch_root", honest_publics(reference or batch)["batch_root"])


@attack("leaf_not_matching_its_amounts", LEAF, leaf_group(2))
def _(sh):
    # The tree (and the published root) gets a leaf without the debt; the
    # circuit checks the real amounts.
    batch = base_batch()
    shown = [x + OFFSET for x in (0, 10**6, -5, 7)]
    return Forge(sh, batch).force(f"{A}[2].leaf", leaf(batch.keys[2], shown)).solve()


@attack("leaf_without_domain_tag", LEAF, leaf_group(1))
def _(sh):
    # Issue 9 §1: a leaf hashed as an inner node would be, Poseidon(key, e_0, ...) without LEAF_TAG (the
    # format-1 leaf, whose arity equals a node's when K + M <= 3). The tag is a circuit constant.
    batch = base_batch()
    u = [x + OFFSET for x in batch.accounts[1]]
    untagged = poseidon(
        [
            batch.keys[1],
            *[sum(u[j] << (64 * t) for t, j in enumerate(range(i, min(i + 3, len(u))))) for i in range(0, len(u), 3)],
        ]
    )
    return Forge(sh, batch).force(f"{A}[1].leaf", untagged).solve()


@attack("accounts_swapped_keeping_root", ROOT, TREE_ROOT)
def _(sh):
    batch = base_batch()
    swapped = replace(
        batch, accounts=[batch.accounts[i] for i in (0, 2, 1, 3)], keys=[batch.keys[i] for i in (0, 2, 1, 3)]
    )
    return root_pinned(sh, swapped, batch).solve()


@attack("merkle_siblings_swapped", LEAF, leaf_group(1, 2))
def _(sh):
    # Exchange the two leaf wires (the tree input), amounts and keys unchanged.
    batch = base_batch()
    l1, l2 = (leaf(batch.keys[i], [x + OFFSET for x in batch.accounts[i]]) for i in (1, 2))
    return Forge(sh, batch).force(f"{A}[1].leaf", l2).force(f"{A}[2].leaf", l1).solve()


@attack("key_changed_after_hashing", LEAF, leaf_group(1))
def _(sh):
    batch = base_batch()
    honest_leaf = leaf(batch.keys[1], [x + OFFSET for x in batch.accounts[1]])
    f = root_pinned(sh, batch).set("main.key[1]", batch.keys[1] + 1)
    return f.force(f"{A}[1].leaf", honest_leaf).solve()


@attack("amounts_swapped_keeping_leaves", LEAF, leaf_group(1, 2))
def _(sh):
    # Prove accounts 1 and 2 with each other's amounts under the committed leaves.
    batch = base_batch()
    leaves = [leaf(k, [x + OFFSET for x in a]) for k, a in zip(batch.keys, batch.accounts)]
    swapped = replace(batch, accounts=[batch.accounts[i] for i in (0, 2, 1, 3)])
    f = root_pinned(sh, swapped, batch)
    return f.force(f"{A}[1].leaf", leaves[1]).force(f"{A}[2].leaf", leaves[2]).solve()


@attack("balance_lowered_keeping_root", ROOT, TREE_ROOT)
def _(sh):
    # Lower the largest credit (a liability) but keep the root holders verify against.
    batch = base_batch()
    return root_pinned(sh, with_account(batch, 3, (0, 10**6, 1000, -1000)), batch).solve()


@attack(
    "merkle_internal_node_forged",
    "SubtreeRoot: node[B+i] <== Poseidon(node[2i], node[2i+1]) (merkle.circom:32-35)",
    r"^main\.tree\.(node\[5\]$|h\[1\]\.)",
)
def _(sh):
    # Hide account 2's debt, and force the node above it back to the committed value.
    batch = base_batch()
    leaves = [leaf(k, [x + OFFSET for x in a]) for k, a in zip(batch.keys, batch.accounts)]
    f = root_pinned(sh, with_account(batch, 2, (0, 10**6, -5, 7)), batch)
    return f.force("main.tree.node[5]", poseidon([leaves[2], leaves[3]])).solve()


# ---- public signals ------------------------------------------------------------------


def public_changed(name: str) -> Callable[[Shape], list[int]]:
    def build(sh):
        w = Forge(sh, base_batch()).solve()
        w[sh.w(f"main.{name}")] = (w[sh.w(f"main.{name}")] + 1) % R
        return w

    return build


for _name, _stop, _where in [
    ("batch_root", ROOT, TREE_ROOT),
    ("acc_in", ACCIN, ACC_IN),
    ("acc_out", ACCOUT, ACC_OUT),
]:
    ATTACKS.append(Attack(f"public_{_name}_changed", _stop, _where, public_changed(_name)))


@attack("constant_wire_not_one", "every constraint with a constant term (wire 0)", r".", rows=None)
def _(sh):
    w = Forge(sh, base_batch()).solve()
    w[0] = 2
    return w


# ---- other shapes ----------------------------------------------------------------


@attack("amount_two_to_the_64_k1_m1", SIGNED, amount_group(0, 0), shape="112")
def _(sh):
    return Forge(sh, batch11()).set("main.amount[0][0]", 1 << 64).solve()


@attack("short_position_sign_bit_flipped_k1_m1", SIGNED, amount_group(0, 1), shape="112")
def _(sh):
    return Forge(sh, batch11()).bits(f"{A}[0].amount[1].bits", set_bit(63, 1)).solve()


@attack("debt_sign_bit_flipped_k4_m4", SIGNED, amount_group(3, 0), shape="444")
def _(sh):
    return Forge(sh, batch44()).bits(f"{A}[3].amount[0].bits", set_bit(63, 1)).solve()


# ---- scenario margin (PROTOCOL.md §3.3) -------------------------------------------------

WORST = "WorstShortfall: worst - counted_s in [0, 2^L) by Num2Bits(L) (scenarios.circom)"
ONE_HOT = "WorstShortfall: sel booleanity and sum = 1 (scenarios.circom)"
SCENARIO_HEALTH = "ScenarioHealth: SignSplit(144+ceil(log2 n)) of the scenario health (scenarios.circom)"
SCENARIO_PRICE = "Params: Num2Bits(64) of every scenario price (params.circom)"
S_HEALTH_WIDTH = 144 + 2


def _worst(a: int) -> str:
    return rf"^main\.account\[{a}\]\.worst\."


def _selected(sh, bits: tuple[int, ...]) -> list[int]:
    """The naked put seller (account 3) with its worst-scenario selector forced to `bits`."""
    f = Forge(sh, scenario_batch())
    for s, bit in enumerate(bits):
        f.force(f"{A}[3].worst.sel[{s}]", bit)
    return f.solve()


@attack("portfolio_account_failing_a_scenario_declared_solvent", WORST, _worst(3), shape="224s", rows=None)
def _(sh):
    # Its worst shortfall is scenario 1's; select scenario 0 (shortfall 0) instead, so the account
    # would count as at or above maintenance and its shortfall would vanish.
    return _selected(sh, (1, 0, 0))


@attack("worst_shortfall_not_one_of_the_scenarios", ONE_HOT, _worst(3), shape="224s", rows=None)
def _(sh):
    # No scenario selected: worst = 0, and the selector sums to 0, not 1.
    return _selected(sh, (0, 0, 0))


@attack("worst_shortfall_from_two_scenarios", ONE_HOT, _worst(3), shape="224s", rows=None)
def _(sh):
    # Two scenarios selected: an inflated "worst" (the sum of two shortfalls).
    return _selected(sh, (1, 1, 0))


@attack(
    "scenario_loss_hidden_by_sign_bit",
    SCENARIO_HEALTH,
    r"^main\.account\[3\]\.scenario\[1\]\.healthSign\.",
    shape="224s",
)
def _(sh):
    # The naked put's scenario-1 health is negative: call it non-negative, so neither the stress
    # report nor its portfolio requirement sees the loss.
    g = f"{A}[3].scenario[1].healthSign.bits"
    return Forge(sh, scenario_batch()).bits(g, sign_bit_flipped(sh, g, S_HEALTH_WIDTH)).solve()


@attack(
    "portfolio_mode_not_a_bit",
    "MarginAccount: portfolio * (portfolio - 1) === 0 (batch.circom)",
    r"^main\.(portfolio\[2\]|account\[2\]\.(portfolio|worst\.portfolio|scenario\[\d\]\.flat|optionsHeld\.portfolio))$",
    shape="224s",
    rows=None,
)
def _(sh):
    # Mode 2: the flat rates counted negatively (flat = 1 - 2 = -1) would add margin.
    return Forge(sh, scenario_batch()).set("main.portfolio[2]", 2).solve()


@attack(
    "option_held_by_a_cross_margined_account",
    "PortfolioOnly: (1 - portfolio) * kind * value === 0 (scenarios.circom)",
    r"^main\.account\[3\]\.optionsHeld\.",
    shape="224s",
)
def _(sh):
    # The naked put declared cross-margined: its option would escape the scenario requirement.
    batch = scenario_batch()
    return Forge(sh, replace(batch, portfolio=[0, 0, 1, 0])).solve()


@attack("scenario_price_not_the_published_one", "Params hash → accIn (accumulator.circom)", ACC_IN, shape="224s")
def _(sh):
    # The put's price in scenario 1 lowered from 12 to 6 (halving the naked put's loss there); acc_in is
    # the published chain's.
    f = pin_all(Forge(sh, scenario_batch()), scenario_batch(), "acc_in")
    return f.set("main.scenario_price[0][3]", 6).solve()


@attack("scenario_price_two_to_the_64", SCENARIO_PRICE, r"^main\.params\.scenarioBits\[1\]\[2\]\.", shape="224s")
def _(sh):
    # A scenario price of 2^64 + 39 with the attacker's own (consistent) params hash: without the range
    # check its 3-per-element packing would open to another price vector, and health could wrap.
    return Forge(sh, scenario_batch()).set("main.scenario_price[1][2]", (1 << 64) + 39).solve()


@attack(
    "option_kind_not_a_bit",
    "Params: option_kind * (option_kind - 1) === 0 (params.circom)",
    r"^main\.(option_kind\[1\]|params\.option_kind\[1\]|account\[\d\]\.(option_kind\[1\]|optionsHeld\.kind\[1\]))$",
    shape="224s",
    rows=None,
)
def _(sh):
    return Forge(sh, scenario_batch()).set("main.option_kind[1]", 2).solve()


@attack("margin_mode_other_than_the_committed_one", "AccountLeaf hashes the mode → batch_root", TREE_ROOT, shape="224s")
def _(sh):
    # Account 1 was committed cross-margined; prove it as portfolio-margined (no flat rate) under the
    # published root.
    f = pin_all(Forge(sh, scenario_batch()), scenario_batch(), "batch_root")
    return f.set("main.portfolio[1]", 1).solve()


# ---- entry costs (PROTOCOL.md §3.4) -----------------------------------------------------------
#
# A market's entry cost is one more amount slot, after the real assets: the leaf holds −cost
# (cost = size × entry, so a long pays and a short receives), priced 10^(S−d) with both weights
# 10000, the same for every slot of this kind (zksolv.params builds it; test_cost_slot_params
# below checks that). Here slot 1 plays that role for market 0. Account 1 is a long of 10 at mark
# 3 whose entry cost of 130 puts it below maintenance (health −15000): each forgery tries to make
# that cost vanish, shrink or change sides, and the constraints that stop any amount stop it.

P_COST = Params(price=(1, 1), aw=(10000, 10000), lw=(10000, 10000), mark=(3, 2), mmr=(500, 0))
COST_ACCOUNTS = [
    (0, 0, 0, 0),
    (100, -120, 10, 0),  # long 10 at entry 12: health 1,000,000 − 1,200,000 + 300,000 − 15,000 = 85,000
    (10, 60, -20, 0),  # short 20 at entry 3: received 60 (+60 in the slot), health 70,000
    (5, 0, 0, 0),
]
UNDERWATER_COST = (100, -130, 10, 0)  # the same long at entry 13: health −15,000


def cost_batch(underwater: bool = False) -> Batch:
    accounts = list(COST_ACCOUNTS)
    if underwater:
        accounts[1] = UNDERWATER_COST
    return Batch(P_COST, accounts, keys_for(4, tag=13), totals_in=[0] * 12, blinding_in=0)


@attack("entry_cost_as_r_minus_x_hides_an_underwater_long", SIGNED, amount_group(1, 1))
def _(sh):
    # The cost −130 written as the field element r − 130, not its offset 2^63 − 130.
    return Forge(sh, cost_batch(underwater=True)).set("main.amount[1][1]", R - 130).solve()


@attack("entry_cost_paid_claimed_as_received", SIGNED, amount_group(1, 1))
def _(sh):
    # The long's cost counted as a short's receipt: health +2.6M instead of −15,000, and the
    # cost moves from the slot's debit total to its credit.
    return Forge(sh, cost_batch(underwater=True)).bits(f"{A}[1].amount[1].bits", set_bit(63, 1)).solve()


@attack("entry_cost_two_to_the_64", SIGNED, amount_group(2, 1))
def _(sh):
    return Forge(sh, cost_batch()).set("main.amount[2][1]", 1 << 64).solve()


@attack("entry_cost_dropped_under_the_committed_leaf", LEAF, leaf_group(1))
def _(sh):
    # The tree (and the published root) holds the underwater long; the proof uses a cost of 0.
    committed = cost_batch(underwater=True)
    shown = leaf(committed.keys[1], [x + OFFSET for x in UNDERWATER_COST])
    lighter = with_account(committed, 1, (100, 0, 10, 0))
    return Forge(sh, lighter).force(f"{A}[1].leaf", shown).solve()


@attack("acc_out_understates_entry_costs_paid", ACCOUT, ACC_OUT)
def _(sh):
    # The published acc_out opens to totals where the longs' costs paid (slot 1's debit) are 0.
    batch = cost_batch()
    totals = batch_totals(batch.accounts, batch.params)
    assert totals[3] == 120  # slot 1: credit 60 (the short's receipt), debit 120 (the long's cost)
    totals[3] = 0
    f = pin_all(Forge(sh, batch), batch)
    return f.pin("acc_out", acc(P_COST.hash(), batch.shape, totals, batch.blinding_out)).solve()


def test_cost_slot_params():
    """The slot the attacks above stand for is what zksolv.params builds for a market with
    entry_cost_decimals: price 10^(S−d) at the value scale S, weights 10000/10000, after the assets."""
    from zksolv.params import parse_params

    params = parse_params(
        {
            "epoch": "2026-11-24T00:00:00Z",
            "quote": "USD",
            "assets": [
                {
                    "symbol": "USDT",
                    "decimals": 6,
                    "price": "1",
                    "asset_weight_bps": 10000,
                    "liability_weight_bps": 10000,
                }
            ],
            "markets": [
                {
                    "symbol": "BTC-PERP",
                    "decimals": 4,
                    "mark_price": "97000",
                    "maintenance_margin_bps": 500,
                    "entry_cost_decimals": 2,
                }
            ],
        }
    )
    slot = params.assets[params.entry_cost_slots["BTC-PERP"]]
    assert params.entry_cost_slots == {"BTC-PERP": 1} and slot.cost_of == "BTC-PERP"
    assert (slot.scaled_price, slot.asset_weight_bps, slot.liability_weight_bps) == (
        10 ** (params.value_scale - 2),
        10000,
        10000,
    )


def test_entry_cost_batch_is_honest_and_counts_the_underwater_long(shapes):
    """Positive control: both batches satisfy the circuit, and the underwater one is counted below
    maintenance with its shortfall (the cost is not a forgery, hiding it is)."""
    assert [health(a, P_COST) for a in COST_ACCOUNTS] == [0, 85_000, 70_000, 50_000]
    assert health(UNDERWATER_COST, P_COST) == -15_000
    for underwater in (False, True):
        batch = cost_batch(underwater)
        witness = Forge(shapes["224"], batch).solve()
        assert is_satisfied(shapes["224"].r1cs, witness)
        assert witness[shapes["224"].w("main.acc_out")] == batch.expected_public()[2]
    figures = batch_totals(cost_batch(True).accounts, P_COST)[8:]
    assert figures[:2] == [1, 15_000]


# --------------------------------------------------------------------------
# the tests

BY_NAME = {a.name: a for a in ATTACKS}


def test_attack_table():
    assert len(BY_NAME) == len(ATTACKS) >= 40


@pytest.mark.parametrize("name", list(BY_NAME))
def test_attack_is_rejected(shapes, name):
    att = BY_NAME[name]
    sh = shapes[att.shape]
    witness = att.build(sh)
    index = assert_rejected_by(sh, witness, att.where, att.rows)
    # Every violated constraint touches the component in att.where: without
    # it, this forged witness would satisfy the circuit. The first one, for
    # the record (pytest -s):
    print(f"{name}: {len(violations(sh.r1cs, witness))} violated, first {explain(sh, witness, index)} [{att.stops}]")


# ---- positive controls ------------------------------------------------------------------


@pytest.mark.parametrize(
    "make",
    [insolvent_batch, junk_batch, bankrupt_batch],
    ids=["below_maintenance", "junk_collateral_borrower", "bankrupt"],
)
def test_accounts_in_liquidation_are_proved_and_counted(shapes, make):
    """Format 3: an account below maintenance (or bankrupt) is no longer a forgery. The honest witness
    satisfies the circuit and its acc_out counts the account (the reference model's figures)."""
    batch = make()
    witness = Forge(shapes["224"], batch).solve()
    assert is_satisfied(shapes["224"].r1cs, witness)
    assert witness[shapes["224"].w("main.acc_out")] == batch.expected_public()[2]
    figures = batch_totals(batch.accounts, batch.params)[8:]
    assert figures[0] >= 1 and figures[1] >= 1
    assert (figures[2] >= 1) == (make is bankrupt_batch)


@pytest.mark.parametrize("key", list(SHAPES))
def test_valid_witness_is_accepted(shapes, generated, key):
    sh = shapes[key]
    assert is_satisfied(sh.r1cs, generated[key])
    assert first_violation(sh.r1cs, generated[key]) is None


@pytest.mark.parametrize("key", list(SHAPES))
def test_forger_reproduces_the_witness_generator(shapes, generated, key):
    """Control for the harness: with no forgery, the forger's propagation
    computes exactly the wires circom's witness generator computes, public
    signals included — so attacks differ from an honest witness only where
    they say they do."""
    witness = Forge(shapes[key], BASES[key]()).solve()
    assert witness == generated[key]


def test_checker_is_fast_enough(sh, generated):
    start = time.perf_counter()
    for _ in range(5):
        first_violation(sh.r1cs, generated["224"])
    assert (time.perf_counter() - start) / 5 < 0.5


def test_no_free_wire_and_every_public_signal_is_constrained(shapes):
    for sh in shapes.values():
        assert unconstrained_wires(sh.r1cs) == []
        assert sh.r1cs.n_public == 3 and sh.r1cs.n_pub_out == 0
        for name in PUBLIC:
            assert sh.occurs[sh.w(f"main.{name}")], name


def test_free_choices_of_the_prover_are_accepted(sh):
    """The prover legitimately chooses blindings and keys (and the padding
    accounts): changing them, with everything downstream recomputed, still
    satisfies the R1CS."""
    batch = base_batch()
    honest = Forge(sh, batch).solve()
    other = Forge(sh, batch).set("main.blinding_out", 12345).set("main.key[0]", 999).solve()
    assert other != honest
    assert is_satisfied(sh.r1cs, other)
    changed = replace(batch, blinding_out=12345, keys=[999, *batch.keys[1:]])
    assert [other[sh.w(f"main.{n}")] for n in PUBLIC] == changed.expected_public()


def test_limit_duplicate_and_unsorted_keys_are_accepted(sh):
    """Documented limit (docs/SECURITY.md): key order and uniqueness are not
    in the statement; the R1CS accepts both."""
    batch = base_batch()
    dup = replace(batch, keys=[batch.keys[1], batch.keys[1], batch.keys[3], batch.keys[2]])
    assert is_satisfied(sh.r1cs, Forge(sh, dup).solve())


def test_non_canonical_encoding_is_the_same_field_element(sh, tmp_path):
    """u + r in the .wtns is the same field element as u: not a different
    statement. The constraints hold; is_satisfied also insists on canonical
    values."""
    w = Forge(sh, base_batch()).solve()
    wire = sh.w("main.amount[3][1]")
    w[wire] += R
    assert first_violation(sh.r1cs, w) is None
    assert not is_satisfied(sh.r1cs, w)


# ---- cross-check with snarkjs -------------------------------------------------------------

CROSS = [
    "negative_balance_as_r_minus_x",
    "leaf_alias_carry_u_plus_2_64_hides_insolvent_account",
    "debt_sign_bit_flipped",
    "insolvent_declared_solvent_sign_bit_flipped",
    "bankrupt_account_hidden",
    "negative_price_aliasing_asset_packing",
    "credit_hidden_positive_part_zeroed",
    "totals_in_changed",
    "accounts_swapped_keeping_root",
    "public_acc_out_changed",
    "hashchain_link_forged",
    "amount_two_to_the_64_k1_m1",
]


def snarkjs_first_violation(sh: Shape, witness: list[int], path: Path) -> int | None:
    write_wtns(path, witness)
    try:
        check_witness(sh.circ.r1cs, path)
    except CircuitError as err:
        m = re.search(r"aborting checking process at constraint (\d+)", str(err))
        assert m, str(err)
        return int(m.group(1))
    return None


def test_snarkjs_agrees(shapes, generated, tmp_path):
    """zksolv.r1cs and `snarkjs wtns check` report the same first violated
    constraint (or none) on accepting and forged witnesses. The all-zero
    assignment satisfies every A*B = C (both say so); only is_satisfied, which
    also requires wire 0 = 1 as a Groth16 verifier does, rejects it."""
    sh224 = shapes["224"]
    cases: list[tuple[str, Shape, list[int], bool]] = [
        ("valid-224", sh224, generated["224"], True),
        ("valid-444", shapes["444"], generated["444"], True),
        ("legit-blinding", sh224, Forge(sh224, base_batch()).set("main.blinding_out", 7).solve(), True),
        ("all-zero", sh224, [0] * sh224.r1cs.n_wires, True),
    ]
    for name in CROSS:
        att = BY_NAME[name]
        cases.append((name, shapes[att.shape], att.build(shapes[att.shape]), False))
    for i, (name, sh, witness, holds) in enumerate(cases):
        ours = first_violation(sh.r1cs, witness)
        theirs = snarkjs_first_violation(sh, witness, tmp_path / f"{i}.wtns")
        assert ours == theirs, f"{name}: zksolv.r1cs says {ours}, snarkjs says {theirs}"
        assert (ours is None) == holds, name
        assert is_satisfied(sh.r1cs, witness) == (holds and name != "all-zero"), name


# ---- outside the circuit: inclusion proofs ------------------------------------------


def test_inclusion_proof_cannot_pass_through_a_dummy_leaf():
    """With one asset and one market, the venue commits (and proves: the
    circuit takes any key) a zero-balance dummy whose key is Alice's leaf. In
    format 1 the dummy's leaf Poseidon(leaf_A, e_0(0, 0)) was a "node" above
    Alice's leaf, and Alice's proof, one level longer than the tree, verified
    although her 10000 USDC were never in a proved batch (nor in the totals)."""
    from zksolv.commitment import (
        Commitment,
        Slot,
        account_key,
        derive_padding_key,
        derive_salt,
        inclusion_document,
        leaf_hash,
        merkle_levels,
    )
    from zksolv.field import pack_amounts
    from zksolv.inclusion import InclusionProofFile, verify_inclusion
    from zksolv.params import params_hash, parse_params

    params = parse_params(
        {
            "epoch": "2026-11-24T00:00:00Z",
            "quote": "USD",
            "assets": [
                {
                    "symbol": "USDC",
                    "decimals": 6,
                    "price": "1",
                    "asset_weight_bps": 10000,
                    "liability_weight_bps": 10000,
                }
            ],
            "markets": [{"symbol": "BTC-PERP", "decimals": 4, "mark_price": "50000", "maintenance_margin_bps": 500}],
        }
    )
    seed, epoch = b"s" * 32, params.epoch_seconds
    salt = derive_salt(seed, epoch, "alice")
    alice = Slot(account_key("alice", salt), (10_000 * 10**6, 0), "alice", salt)
    leaf_a = leaf_hash(alice.key, alice.amounts)
    zero = (0, 0)
    slots = [Slot(leaf_a, zero)] + [Slot(derive_padding_key(seed, epoch, j), zero) for j in range(3)]
    tree = Commitment(params, 4, slots, merkle_levels([leaf_hash(s.key, s.amounts) for s in slots]))
    doc = inclusion_document(params, tree.root, 0, leaf_a, [pack_amounts(zero)[0], *tree.siblings(0)], alice)
    result = verify_inclusion(
        InclusionProofFile.model_validate(doc), tree.root, tree.capacity, params.epoch, params_hash(params)
    )
    assert not result.valid and result.reason.startswith("wrong path"), result.reason
    # Alice's honest-looking proof is exactly one level too long for the published capacity.
    assert len(doc["subaccounts"][0]["siblings"]) == tree.capacity.bit_length()
    # Second line (format 2): even with a capacity lie that makes the depth check pass (issue 9 §1: batch
    # size and capacity both doubled), the path does not reach the root, because the dummy's leaf is
    # Poseidon(LEAF_TAG, leaf_A, e_0) and no inner node Poseidon(leaf_A, sibling) can equal it.
    lied = verify_inclusion(
        InclusionProofFile.model_validate(doc), tree.root, 2 * tree.capacity, params.epoch, params_hash(params)
    )
    assert not lied.valid and lied.reason == "wrong path: the Merkle path does not lead to the root", lied.reason
