"""Gas of a real publication: `zksolv publish` of a bundle to Hardhat's JSON-RPC node (npm hardhat,
contracts/hardhat.config.js), every transaction's receipt gasUsed, plus wall time.

Usage: .venv/bin/python bench/bench_publish.py [--bundle proofs/example] [--json]

The node is started on 127.0.0.1 for the run and stopped after it; the sender is its first development
account. The figures are the receipts' gasUsed as the node mined them (what a venue pays, not
estimate_gas), for a fresh deployment: the verifier, both Poseidon contracts and the registry, then
publishEpoch, openTotals and one submitBatch per batch.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from zksolv import api
from zksolv.publish import local_node

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bundle", type=Path, default=REPO / "proofs" / "example")
    parser.add_argument("--json", action="store_true", help="the publish result as JSON")
    args = parser.parse_args()
    manifest = json.loads((args.bundle / "manifest.json").read_text())
    with local_node() as node, tempfile.TemporaryDirectory() as tmp:
        key = Path(tmp) / "sender.key"
        key.write_text(node.keys[0] + "\n")
        key.chmod(0o600)
        start = time.perf_counter()
        result = api.publish(args.bundle, node.url, key_file=key)
        seconds = time.perf_counter() - start
    if args.json:
        print(json.dumps(result.document(), indent=1))
        return
    circuit = manifest["circuit"]
    print(
        f"bundle {args.bundle} ({circuit['id']}, {manifest['n_batches']} batches of {manifest['batch_size']}); "
        f"Hardhat node, chain {result.chain_id}; publish took {seconds:.1f} s wall "
        f"(incl. verify --backend python); fully proven and opened: {result.fully_proven_and_opened}\n"
    )
    print("| transaction | gas used |\n|---|---:|")
    for tx in result.transactions:
        print(f"| {tx['what']} | {tx['gas_used']:,} |")
    submits = [tx["gas_used"] for tx in result.transactions if tx["what"].startswith("submitBatch")]
    if submits:
        print(f"\nsubmitBatch per batch: {min(submits):,} – {max(submits):,} gas")


if __name__ == "__main__":
    main()
