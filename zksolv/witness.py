"""Cut a commitment into batches and build each batch's circuit input.

docs/PROTOCOL.md §5–6: batch i covers leaves [i·B, (i+1)·B), its subtree root
is a node of the commitment tree, and the accumulator chain carries blinded
running totals from acc_0 (all zero, blinding 0) to the final commitment.
"""

from __future__ import annotations

from dataclasses import dataclass

from .accounts import split_leaf_values
from .commitment import Commitment, derive_blinding
from .field import AMOUNT_OFFSET
from .margin import Totals
from .params import RiskParams, extra_brackets, params_hash, params_meta

# The accumulator statement lives on the verifier side; re-exported for evm.py and the tests.
from .statement import accumulator, circuit_shape, totals_commitment, zero_accumulator, zero_totals_commitment  # noqa: F401


@dataclass(frozen=True)
class BatchStatement:
    """What batch `index` proves, as its three public signals (PROTOCOL.md §6)."""

    index: int
    batch_root: int
    acc_in: int
    acc_out: int

    def public_signals(self) -> list[int]:
        return [self.batch_root, self.acc_in, self.acc_out]


@dataclass(frozen=True)
class BatchPlan:
    """The whole proving job: every batch's statement; inputs are built on demand
    (one batch at a time) so a large snapshot never holds every witness in memory."""

    commitment: Commitment
    batch_size: int
    statements: list[BatchStatement]
    totals_in: list[list[int]]
    blindings: list[int]  # blindings[i] opens statements[i].acc_in; blindings[-1] the final accumulator
    final_totals: Totals

    @property
    def n_batches(self) -> int:
        return len(self.statements)

    @property
    def final_blinding(self) -> int:
        return self.blindings[-1]

    def batch_input(self, index: int) -> dict:
        """The circuit input of batch `index` (signal names of PROTOCOL.md §6)."""
        statement = self.statements[index]
        params = self.commitment.params
        n = params.n_slots
        slots = self.commitment.slots[index * self.batch_size : (index + 1) * self.batch_size]
        return {
            "batch_root": statement.batch_root,
            "acc_in": statement.acc_in,
            "acc_out": statement.acc_out,
            "key": [s.key for s in slots],
            "amount": [[a + AMOUNT_OFFSET for a in s.amounts[:n]] for s in slots],
            **({"portfolio": [s.amounts[n] for s in slots]} if params.scenarios else {}),
            **_params_input(params),
            "totals_in": self.totals_in[index],
            "blinding_in": self.blindings[index],
            "blinding_out": self.blindings[index + 1],
        }


def plan_batches(commitment: Commitment, seed: bytes, batch_size: int) -> BatchPlan:
    """Statements of every batch: subtree roots and the blinded accumulator chain."""
    params = commitment.params
    if batch_size < 2 or batch_size & (batch_size - 1) or commitment.capacity % batch_size:
        raise ValueError(f"batch size {batch_size} must be a power of two dividing the capacity")
    roots = commitment.levels[batch_size.bit_length() - 1]
    phash = params_hash(params)
    shape = circuit_shape(len(params.assets), len(params.markets), batch_size, params.tiers, len(params.scenarios))
    totals = Totals.zero(params)
    acc_in = zero_accumulator(params, batch_size)
    statements, totals_in, blindings = [], [], [0]
    for index, root in enumerate(roots):
        totals_in.append(totals.vector())
        for slot in commitment.slots[index * batch_size : (index + 1) * batch_size]:
            amounts, portfolio = split_leaf_values(slot.amounts, params)
            totals.add(amounts, params, portfolio)
        blindings.append(derive_blinding(seed, params.epoch_seconds, index + 1))
        acc_out = accumulator(phash, shape, totals.vector(), blindings[-1])
        statements.append(BatchStatement(index, root, acc_in, acc_out))
        acc_in = acc_out
    return BatchPlan(commitment, batch_size, statements, totals_in, blindings, totals)


def _params_input(params: RiskParams) -> dict:
    return {
        "price": [a.scaled_price for a in params.assets],
        "asset_weight": [a.asset_weight_bps for a in params.assets],
        "liability_weight": [a.liability_weight_bps for a in params.assets],
        "mark_price": [m.scaled_price for m in params.markets],
        "mmr": [m.maintenance_margin_bps for m in params.markets],
        "bracket_floor": [b.scaled_floor for b in extra_brackets(params)],
        "bracket_rate": [b.maintenance_margin_bps for b in extra_brackets(params)],
        **(
            {"option_kind": list(params.option_kinds), "scenario_price": [list(s.prices) for s in params.scenarios]}
            if params.scenarios
            else {}
        ),
        "epoch": params.epoch_seconds,
        "params_meta": params_meta(params),
    }
