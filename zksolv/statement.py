"""What a batch proof states about the accumulator chain (docs/PROTOCOL.md §5), computed
outside any circuit.

The prover builds batch inputs from these (zksolv.witness) and the verifier recomputes acc_0
and opens the last accumulator with them (zksolv.verify): one definition on the verifier
side, which therefore needs nothing of the prover's.
"""

from __future__ import annotations

from .params import RiskParams, params_hash
from .poseidon import hash_chain8, poseidon


def circuit_shape(
    n_assets: int, n_markets: int, batch_size: int, tiers: tuple[int, ...] = (), scenarios: int = 0
) -> int:
    """Shape(K, M, B, TIERS, S) = K + 2^16·M + 2^32·B + 2^64·Σ_m (TIERS_m − 1)·32^m + 2^240·S, the constant
    every SolvencyBatch circuit hashes into its accumulators (PROTOCOL.md §5): a proof of one shape cannot
    be presented as another. `tiers` are the brackets per market (empty: every market flat), `scenarios`
    the scenario count S (§3.3); both default to the flat shape K + 2^16·M + 2^32·B."""
    tiers = tiers or (1,) * n_markets
    if not (
        0 < n_assets < 1 << 16
        and 0 <= n_markets < 1 << 16
        and 0 < batch_size < 1 << 31
        and len(tiers) == n_markets
        and all(1 <= t <= 32 for t in tiers)
        and 0 <= scenarios < 1 << 12
    ):
        raise ValueError(
            f"shape ({n_assets}, {n_markets}, {batch_size}, tiers {list(tiers)}, {scenarios} scenarios) out of range"
        )
    packed_tiers = sum((t - 1) << (5 * m) for m, t in enumerate(tiers))
    if packed_tiers >> 176:  # would reach the scenario count's bits
        raise ValueError(f"bracket counts {list(tiers)} do not fit the shape")
    return n_assets + (n_markets << 16) + (batch_size << 32) + (packed_tiers << 64) + (scenarios << 240)


def totals_commitment(shape: int, totals: list[int], blinding: int) -> int:
    """HashChain8(shape, totals…, blinding): the hiding commitment inside an accumulator (8-input
    Poseidon calls, so the registry can recompute it on-chain)."""
    return hash_chain8([shape, *totals, blinding])


def zero_totals_commitment(
    n_assets: int, n_markets: int, batch_size: int, tiers: tuple[int, ...] = (), scenarios: int = 0
) -> int:
    """Z = HashChain(shape, 0…0, 0): a constant per circuit shape (the registry's immutable)."""
    shape = circuit_shape(n_assets, n_markets, batch_size, tiers, scenarios)
    return totals_commitment(shape, [0] * (2 * (n_assets + n_markets) + 4 + 4 * scenarios), 0)


def accumulator(params_hash_value: int, shape: int, totals: list[int], blinding: int) -> int:
    """acc = Poseidon(params_hash, HashChain(shape, totals…, blinding)): binds params and shape into the
    chain."""
    return poseidon([params_hash_value, totals_commitment(shape, totals, blinding)])


def zero_accumulator(params: RiskParams, batch_size: int) -> int:
    """acc_0 = Poseidon(params_hash, Z): the public start of the chain for the published params and shape."""
    z = zero_totals_commitment(len(params.assets), len(params.markets), batch_size, params.tiers, len(params.scenarios))
    return poseidon([params_hash(params), z])


def circuit_name(
    n_assets: int,
    n_markets: int,
    batch_size: int,
    tiers: tuple[int, ...] = (),
    spaced: bool = True,
    scenarios: int = 0,
) -> str:
    """ "SolvencyBatch(K, M, B)", with the bracket counts when a market is tiered and S with scenarios."""
    sep = ", " if spaced else ","
    dims = [str(n_assets), str(n_markets), str(batch_size)]
    if any(t != 1 for t in tiers):
        dims.append("[" + sep.join(str(t) for t in tiers) + "]")
    if scenarios:
        dims.append(f"S={scenarios}")
    return f"SolvencyBatch({sep.join(dims)})"
