"""The module boundaries of docs/ARCHITECTURE.md, checked on the import graph.

The verifier side (what `zksolv verify` and `zksolv inclusion verify` run) must never
import the prover side: a verifier then trusts, and installs, nothing that makes proofs,
and a change to the prover cannot silently change what verification accepts. The graph
is read from the source (ast), function-level imports included, so a lazy
`from .circuit import …` inside a function counts like one at the top.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections import deque
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "zksolv"

#: Where verification starts: every module these reach is on the verifier side.
VERIFIER_ROOTS = {"zksolv.groth16", "zksolv.verify", "zksolv.inclusion"}
#: Makes keys, witnesses and proofs (and audits keys, which compiles circuits and runs zkey verify).
PROVER = {
    "zksolv.circuit",
    "zksolv.setup",
    "zksolv.provers",
    "zksolv.scheduler",
    "zksolv.prove",
    "zksolv.witness",
    "zksolv.ptau",
    "zksolv.devsetup",
    "zksolv.audit",
    "zksolv.ceremony",
    "zksolv.decimals",
}
#: The library facade and the CLI that dresses it: may import both sides; no pipeline stage imports them.
FACADE = {
    "zksolv.api",
    "zksolv.cli",
    "zksolv.__main__",
    "zksolv.demo",
    "zksolv.demo_portfolio",
    "zksolv.progress",
    "zksolv.report",
}
#: Used by both sides; none of them may reach the prover side (they would carry it into the verifier).
SHARED = {
    "zksolv.options",
    "zksolv.scenarios",
    "zksolv",
    "zksolv.accounts",
    "zksolv.binfile",
    "zksolv.bundle",
    "zksolv.commitment",
    "zksolv.errors",
    "zksolv.events",
    "zksolv.evm",
    "zksolv.field",
    "zksolv.inclusion_store",
    "zksolv.io",
    "zksolv.margin",
    "zksolv.oracle",
    "zksolv.params",
    "zksolv.poseidon",
    "zksolv.publish",
    "zksolv.r1cs",
    "zksolv.secret",
    "zksolv.snarkjs",
    "zksolv.statement",
    "zksolv.timestamps",
    "zksolv.toolchain",
    "zksolv.trust",
    "zksolv.units",
}

#: Known crossings, each waiting for a change in a file owned elsewhere. Delete an entry once its
#: import is gone (test_exemptions_are_still_needed says when).
PENDING: dict[tuple[str, str], str] = {}  # known crossings still to remove (none)

#: What the verifier side may use of zksolv.snarkjs, whose other functions set up and prove.
SNARKJS_FOR_VERIFIERS = {"verify", "SnarkjsError"}


def module_name(path: Path) -> str:
    return "zksolv" if path.stem == "__init__" else f"zksolv.{path.stem}"


def modules() -> dict[str, ast.Module]:
    return {module_name(p): ast.parse(p.read_text(), str(p)) for p in sorted(PACKAGE.glob("*.py"))}


def imports_of(name: str, tree: ast.Module, known: set[str]) -> set[str]:
    """The zksolv modules `name` imports anywhere in its source."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name in known}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                package = name if name == "zksolv" else name.rsplit(".", 1)[0]
                base = ".".join([package, *([node.module] if node.module else [])])
            else:
                base = node.module or ""
            for alias in node.names:
                submodule = f"{base}.{alias.name}"
                # `from . import toolchain` imports a module; `from .io import read_json` a name of one.
                found.add(submodule if submodule in known else base)
    found &= known
    return found - {name}


def graph() -> dict[str, set[str]]:
    trees = modules()
    return {name: imports_of(name, tree, set(trees)) for name, tree in trees.items()}


def verifier_side(edges: dict[str, set[str]]) -> dict[str, list[str]]:
    """Every module the verifier roots reach (without the pending edges), with an import path to it."""
    paths = {root: [root] for root in VERIFIER_ROOTS}
    queue = deque(VERIFIER_ROOTS)
    while queue:
        name = queue.popleft()
        for target in sorted(edges[name]):
            if target not in paths and (name, target) not in PENDING:
                paths[target] = paths[name] + [target]
                queue.append(target)
    return paths


def test_every_module_is_on_one_side():
    names = set(modules())
    sides = [VERIFIER_ROOTS, PROVER, FACADE, SHARED]
    assert sum(len(s) for s in sides) == len(set().union(*sides)), "a module is classified twice"
    unclassified = names - set().union(*sides)
    assert not unclassified, f"classify the new module(s) {sorted(unclassified)} in tests/test_architecture.py"
    assert not set().union(*sides) - names, "a classified module no longer exists"


def test_verifier_side_never_reaches_the_prover_side():
    reached = verifier_side(graph())
    crossings = [" → ".join(path) for name, path in sorted(reached.items()) if name in PROVER]
    assert not crossings, "the verifier side imports the prover side:\n" + "\n".join(crossings)
    assert not set(reached) & FACADE, "the verifier side imports the facade"


def test_a_crossing_is_reported_with_its_path():
    edges = {name: set(targets) for name, targets in graph().items()}
    edges["zksolv.statement"].add("zksolv.witness")  # as if verify's statement module used the prover's
    path = verifier_side(edges)["zksolv.witness"]
    assert path[0] in VERIFIER_ROOTS and path[-2:] == ["zksolv.statement", "zksolv.witness"]


def test_exemptions_are_still_needed():
    edges = graph()
    gone = [f"{a} → {b}" for a, b in PENDING if b not in edges[a]]
    assert not gone, f"these imports are gone: remove them from PENDING: {gone}"


def test_no_pipeline_stage_imports_the_facade():
    edges = graph()
    offenders = {
        f"{name} → {target}" for name, targets in edges.items() if name not in FACADE for target in targets & FACADE
    }
    assert not offenders, f"only the CLI and the facade may import the facade: {sorted(offenders)}"


def test_cli_only_dresses_the_api():
    # Option parsing and formatting: everything else goes through zksolv.api.
    assert graph()["zksolv.cli"] <= {"zksolv.api", "zksolv.errors", "zksolv.progress"}


def test_verifier_side_uses_snarkjs_only_to_verify():
    trees = modules()
    used = set()
    for name in verifier_side(graph()):
        for node in ast.walk(trees[name]):
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "snarkjs":
                used.add((name, node.attr))
            elif isinstance(node, ast.ImportFrom) and (node.module or "").endswith("snarkjs"):
                used |= {(name, a.name) for a in node.names}
    assert {attr for _, attr in used} <= SNARKJS_FOR_VERIFIERS, sorted(used)


def test_the_graph_reader_sees_function_level_imports():
    # The boundary is only as good as the reader: verify imports evm inside a function.
    edges = graph()
    assert "zksolv.evm" in edges["zksolv.verify"] and "zksolv.toolchain" in edges["zksolv.evm"]
    assert "zksolv.toolchain" in edges["zksolv.snarkjs"] and "zksolv.trust" in edges["zksolv.verify"]


def test_importing_the_verifier_and_the_api_loads_no_prover_module():
    code = (
        "import sys, zksolv.api, zksolv.verify, zksolv.inclusion\n"
        "print(' '.join(sorted(m for m in sys.modules if m.startswith('zksolv'))))"
    )
    loaded = set(
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    )
    assert "zksolv.verify" in loaded and not loaded & PROVER, sorted(loaded & PROVER)
