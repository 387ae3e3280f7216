"""Constraint counts of every circuit template, each compiled standalone.

Usage:  .venv/bin/python bench/constraint_counts.py [K M] [--batch B ...] [--brackets T ...]
                                                    [--scenarios S ...]

Each template is wrapped in a tiny main component (all inputs private) and
compiled with the same flags as the real circuit (--O2), so the numbers are
what the template adds to SolvencyBatch. Results are cached in build/ like
every other compile. Prints a Markdown table (used in docs/circuits.md).
"""

from __future__ import annotations

import argparse

from zksolv.circuit import compile_circuit, compile_source, r1cs_info


def count(include: str, instance: str) -> int:
    source = f'pragma circom 2.1.0;\ninclude "{include}";\ncomponent main = {instance};\n'
    label = "tpl-" + "".join(ch if ch.isalnum() else "_" for ch in instance)[:40]
    directory = compile_source(source, wasm=False, label=label)
    return r1cs_info(directory / "main.r1cs")["constraints"]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("K", type=int, nargs="?", default=4)
    ap.add_argument("M", type=int, nargs="?", default=4)
    ap.add_argument("--batch", type=int, nargs="*", default=[16, 64])
    ap.add_argument(
        "--brackets",
        type=int,
        nargs="*",
        default=[2, 3, 4, 10],
        help="bracket counts T whose per-account cost (BracketMargin(T)) to measure",
    )
    ap.add_argument(
        "--scenarios",
        type=int,
        nargs="*",
        default=[1, 2, 18],
        help="scenario counts S whose cost (ScenarioHealth per scenario, WorstShortfall) to measure",
    )
    args = ap.parse_args()
    K, M = args.K, args.M
    n, T = K + M, 2 * (K + M) + 4
    flat = "[" + ", ".join(["1"] * max(M, 1)) + "]"
    rows = [
        ("range.circom", "SignedAmount()", "per slot"),
        ("range.circom", "InRange(0, 10000)", "per aw / mmr"),
        ("range.circom", "InRange(10000, 65535)", "per lw"),
        ("params.circom", f"Params({K}, {M}, {flat}, 0)", "per batch"),
        ("health.circom", f"MaintenanceHealth({K}, {M}, {flat})", "per account"),
        ("health.circom", f"AccountEquity({K}, {M})", "per account"),
        ("sign.circom", "SignSplit(147)", "health sign (inside MaintenanceHealth)"),
        ("leaf.circom", f"AccountLeaf({n})", "per account"),
        ("merkle.circom", "SubtreeRoot(2)", "per inner node (Poseidon(2))"),
        ("hashchain.circom", f"HashChain({3 + n})", "params hash, per batch"),
        ("accumulator.circom", f"Accumulator({T}, {K + (M << 16) + (64 << 32)})", "twice per batch"),
        ("batch.circom", f"MarginAccount({K}, {M}, {flat}, 0)", "per account"),
        ("scenarios.circom", f"ScenarioHealth({K}, {M})", "per account, per scenario (and the published prices)"),
        ("scenarios.circom", f"PortfolioOnly({M})", "per account, with scenarios"),
        *[
            ("scenarios.circom", f"WorstShortfall({s + 1}, {144 + (n - 1).bit_length()})", f"per account, S = {s}")
            for s in args.scenarios
        ],
        *[("batch.circom", f"MarginAccount({K}, {M}, {flat}, {s})", f"per account, S = {s}") for s in args.scenarios],
        *[
            ("brackets.circom", f"BracketMargin({t})", f"per account, per market with {t} brackets")
            for t in args.brackets
        ],
        *[
            ("brackets.circom", f"BracketSchedule({t})", f"per batch, per market with {t} brackets")
            for t in args.brackets
        ],
    ]
    print("| template | constraints | where |")
    print("|---|---:|---|")
    for include, instance, where in rows:
        print(f"| `{instance}` | {count(include, instance):,} | {where} |", flush=True)
    for B in args.batch:
        total = r1cs_info(compile_circuit(K, M, B).r1cs)["constraints"]
        print(f"| `SolvencyBatch({K}, {M}, {B})` | {total:,} | {total / B:,.1f} per account |", flush=True)
        if M:
            for t in args.brackets:
                tiers = (t,) + (1,) * (M - 1)
                tiered = r1cs_info(compile_circuit(K, M, B, tiers=tiers).r1cs)["constraints"]
                print(
                    f"| `SolvencyBatch({K}, {M}, {B}, {list(tiers)})` | {tiered:,} | "
                    f"{tiered / B:,.1f} per account (+{(tiered - total) / B:,.1f}) |",
                    flush=True,
                )
        for s in args.scenarios:
            scenario = r1cs_info(compile_circuit(K, M, B, scenarios=s).r1cs)["constraints"]
            print(
                f"| `SolvencyBatch({K}, {M}, {B}, S={s})` | {scenario:,} | "
                f"{scenario / B:,.1f} per account (+{(scenario - total) / B:,.1f}) |",
                flush=True,
            )


if __name__ == "__main__":
    main()
