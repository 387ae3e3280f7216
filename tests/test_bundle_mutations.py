"""Tampered bundles: every mutation must be rejected by every backend, naming the check.

Each mutation edits a copy of a valid bundle. "Rehashed" mutations also fix
the manifest's file hashes, as a forger would, so the rejection must come
from the semantic check named, not from the integrity check. The fast subset
(`make test`) runs the snarkjs and pure-Python backends; `make test-all` adds
the Solidity verifier on an EVM.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from zksolv.field import FIELD_MODULUS
from zksolv.verify import BACKENDS, verify_bundle

pytestmark = pytest.mark.node


@dataclass(frozen=True)
class Mutation:
    name: str
    apply: Callable[[Path, dict], None]  # (bundle copy, context) → edits in place
    check: str  # the check that must fail
    rehash: bool = True


def read(folder: Path, name: str):
    return json.loads((folder / name).read_text())


def write(folder: Path, name: str, doc) -> None:
    (folder / name).write_text(json.dumps(doc, indent=1))


def edit(name: str, change: Callable) -> Callable[[Path, dict], None]:
    def apply(folder: Path, ctx: dict) -> None:
        doc = read(folder, name)
        result = change(doc)  # edits in place, or returns a replacement of the same type
        write(folder, name, result if isinstance(result, type(doc)) else doc)

    return apply


def rehash(folder: Path) -> None:
    manifest = read(folder, "manifest.json")
    files = {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name != "manifest.json"
    }
    manifest["files"] = files
    write(folder, "manifest.json", manifest)


def bump(x) -> str:
    return str(int(x) + 1)


def neg_g1(point: list[str]) -> list[str]:
    q = 21888242871839275222246405745257275088696311157297823662689037894645226208583
    return [point[0], str(q - int(point[1])), point[2]]


def swap_dirs(a: Path, b: Path) -> None:
    tmp = a.with_name("swap-tmp")
    a.rename(tmp), b.rename(a), tmp.rename(b)


def set_in(path: tuple, value_fn):
    def change(doc):
        target = doc
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value_fn(target[path[-1]])

    return change


def _manifest_totals_vector_bump(doc):
    doc["final_accumulator"]["totals"][0] = bump(doc["final_accumulator"]["totals"][0])


def _duplicate_batch(folder: Path, ctx: dict) -> None:
    shutil.copytree(folder / "batches/000001", folder / "batches/000002")
    shutil.copytree(folder / "batches/000001", folder / "batches/000003")
    manifest = read(folder, "manifest.json")
    manifest["n_batches"], manifest["capacity"] = 4, 4 * manifest["batch_size"]
    write(folder, "manifest.json", manifest)
    roots = read(folder, "batch_roots.json")
    write(folder, "batch_roots.json", roots + [roots[1], roots[1]])


def _drop_batch(folder: Path, ctx: dict) -> None:
    shutil.rmtree(folder / "batches/000001")
    manifest = read(folder, "manifest.json")
    manifest["n_batches"], manifest["capacity"] = 1, manifest["batch_size"]
    write(folder, "manifest.json", manifest)
    write(folder, "batch_roots.json", read(folder, "batch_roots.json")[:1])


def _foreign_key(folder: Path, ctx: dict) -> None:
    shutil.copyfile(ctx["other_keys"].verification_key, folder / "verification_key.json")
    shutil.copyfile(ctx["other_keys"].verifier_sol, folder / "Verifier.sol")
    manifest = read(folder, "manifest.json")
    manifest["verification_key_sha256"] = hashlib.sha256((folder / "verification_key.json").read_bytes()).hexdigest()
    write(folder, "manifest.json", manifest)


def _no_contribution_key(folder: Path, ctx: dict) -> None:
    shutil.copyfile(ctx["uncontributed_vkey"], folder / "verification_key.json")
    manifest = read(folder, "manifest.json")
    manifest["verification_key_sha256"] = hashlib.sha256((folder / "verification_key.json").read_bytes()).hexdigest()
    write(folder, "manifest.json", manifest)


def _replay_other_epoch(folder: Path, ctx: dict) -> None:
    """An old bundle presented as another epoch: params and manifest say the new epoch."""
    params = read(folder, "params.json")
    params["epoch"] = "2026-11-25T00:00:00Z"
    write(folder, "params.json", params)
    from zksolv.params import canonical_params_json, params_hash, parse_params

    parsed = parse_params(params)
    manifest = read(folder, "manifest.json")
    manifest.update(
        epoch=params["epoch"],
        params_hash=str(params_hash(parsed)),
        params_sha256=hashlib.sha256(canonical_params_json(parsed)).hexdigest(),
    )
    write(folder, "manifest.json", manifest)


def _claim_batch_size(manifest: dict, batch_size: int) -> None:
    """Every shape field of the manifest says `batch_size`, as a forger keeping them consistent would."""
    circuit = manifest["circuit"]
    manifest["batch_size"] = circuit["batch_size"] = batch_size
    circuit["id"] = (
        f"SolvencyBatch({circuit['n_assets']},{circuit['n_markets']},{batch_size})/" + circuit["id"].split("/", 1)[1]
    )


def _batch_size_and_capacity_doubled(folder: Path, ctx: dict) -> None:
    """Issue 9 §1 (audit F1): proofs of SolvencyBatch(K, M, B) published as batch size 2B and capacity ×2,
    so that a holder's path can run one level deeper, through an account no batch proved. Every
    arithmetic check of the manifest still holds (capacity = n_batches × batch_size)."""
    manifest = read(folder, "manifest.json")
    _claim_batch_size(manifest, 2 * manifest["batch_size"])
    manifest["capacity"] *= 2
    write(folder, "manifest.json", manifest)


def _batch_size_doubled_batches_halved(folder: Path, ctx: dict) -> None:
    """The same capacity cut into half as many batches of twice the size: only the last batches are
    dropped, so the remaining files, roots and sizes agree with each other."""
    manifest = read(folder, "manifest.json")
    n = manifest["n_batches"] // 2
    for index in range(n, manifest["n_batches"]):
        shutil.rmtree(folder / f"batches/{index:06d}")
    _claim_batch_size(manifest, 2 * manifest["batch_size"])
    manifest["n_batches"] = n
    write(folder, "manifest.json", manifest)
    write(folder, "batch_roots.json", read(folder, "batch_roots.json")[:n])


def _batch_size_beyond_the_shape(folder: Path, ctx: dict) -> None:
    """One batch of 2^31 accounts, every size consistent: more than the circuit shape holds (B < 2^31), so no
    acc_0 can be computed for it."""
    manifest = read(folder, "manifest.json")
    shutil.rmtree(folder / "batches/000001")
    _claim_batch_size(manifest, 1 << 31)
    manifest["n_batches"], manifest["capacity"] = 1, 1 << 31
    write(folder, "manifest.json", manifest)
    write(folder, "batch_roots.json", read(folder, "batch_roots.json")[:1])


def _insurance_fund_raised_consistently(folder: Path, ctx: dict) -> None:
    """A larger insurance fund written into params.json, with the manifest's params hash and digest
    recomputed as a forger would: the proofs' chain starts from the old params."""
    params = read(folder, "params.json")
    params["insurance_fund"] = "1000000000"
    write(folder, "params.json", params)
    from zksolv.params import canonical_params_json, params_hash, parse_params

    parsed = parse_params(params)
    manifest = read(folder, "manifest.json")
    manifest.update(
        params_hash=str(params_hash(parsed)), params_sha256=hashlib.sha256(canonical_params_json(parsed)).hexdigest()
    )
    manifest["liquidations"]["insurance_fund"] = "1000000000"
    write(folder, "manifest.json", manifest)


def _extra_file(folder: Path, ctx: dict) -> None:
    (folder / "batches/000000/extra.json").write_text("{}")


MUTATIONS: list[Mutation] = [
    # --- integrity: plain edits, manifest left alone ---------------------------------
    Mutation(
        "params price edited",
        edit("params.json", set_in(("assets", 1, "price"), lambda v: "50001")),
        "manifest",
        rehash=False,
    ),
    Mutation("proof edited", edit("batches/000000/proof.json", set_in(("pi_a", 0), bump)), "manifest", rehash=False),
    Mutation("public edited", edit("batches/000001/public.json", set_in((0,), bump)), "manifest", rehash=False),
    Mutation(
        "verification key edited", edit("verification_key.json", set_in(("IC", 0, 0), bump)), "manifest", rehash=False
    ),
    Mutation("batch roots edited", edit("batch_roots.json", set_in((1,), bump)), "manifest", rehash=False),
    Mutation(
        "Verifier.sol edited",
        lambda f, c: (f / "Verifier.sol").write_text(
            (f / "Verifier.sol").read_text().replace("alphax  = ", "alphax  = 1")
        ),
        "manifest",
        rehash=False,
    ),
    Mutation(
        "file hash entry removed",
        edit("manifest.json", lambda d: d["files"].pop("batch_roots.json")),
        "manifest",
        rehash=False,
    ),
    Mutation(
        "file hash changed",
        edit("manifest.json", set_in(("files", "params.json"), lambda v: "0" * 64)),
        "manifest",
        rehash=False,
    ),
    Mutation("extra file in a batch", _extra_file, "manifest", rehash=False),
    Mutation("batch dropped (files only)", lambda f, c: shutil.rmtree(f / "batches/000001"), "manifest", rehash=False),
    # --- manifest fields --------------------------------------------------------------
    Mutation(
        "unknown format version",
        edit("manifest.json", set_in(("format",), lambda v: "zksolv-bundle/99")),
        "manifest",
        rehash=False,
    ),
    Mutation("n_batches removed", edit("manifest.json", lambda d: d.pop("n_batches")), "manifest", rehash=False),
    Mutation(
        "root respelled with a leading zero",
        edit("manifest.json", set_in(("root",), lambda v: "0" + v)),
        "manifest",
        rehash=False,
    ),
    Mutation("root changed", edit("manifest.json", set_in(("root",), bump)), "root", rehash=False),
    Mutation(
        "epoch changed in manifest only",
        edit("manifest.json", set_in(("epoch",), lambda v: "2026-11-25T00:00:00Z")),
        "params",
        rehash=False,
    ),
    Mutation("params hash changed", edit("manifest.json", set_in(("params_hash",), bump)), "params", rehash=False),
    Mutation(
        "params sha256 changed",
        edit("manifest.json", set_in(("params_sha256",), lambda v: "1" * 64)),
        "params",
        rehash=False,
    ),
    Mutation(
        "capacity doubled", edit("manifest.json", set_in(("capacity",), lambda v: 2 * v)), "manifest", rehash=False
    ),
    Mutation(
        "batch size halved", edit("manifest.json", set_in(("batch_size",), lambda v: v // 2)), "manifest", rehash=False
    ),
    Mutation("n_batches + 1", edit("manifest.json", set_in(("n_batches",), lambda v: v + 1)), "manifest", rehash=False),
    Mutation(
        "2^39 batches claimed, sizes consistent",
        edit("manifest.json", lambda d: d.update(n_batches=1 << 39, capacity=(1 << 39) * d["batch_size"])),
        "manifest",
        rehash=False,
    ),
    Mutation(
        "circuit shape changed",
        edit("manifest.json", set_in(("circuit", "n_assets"), lambda v: v + 1)),
        "params",
        rehash=False,
    ),
    Mutation("final total + 1", edit("manifest.json", _manifest_totals_vector_bump), "accumulator chain", rehash=False),
    Mutation(
        "final blinding + 1",
        edit("manifest.json", set_in(("final_accumulator", "blinding"), bump)),
        "accumulator chain",
        rehash=False,
    ),
    Mutation(
        "final acc changed",
        edit("manifest.json", set_in(("final_accumulator", "acc"), bump)),
        "accumulator chain",
        rehash=False,
    ),
    Mutation(
        "human-readable credit changed",
        edit("manifest.json", set_in(("totals", "assets", "BTC", "credit"), lambda v: "1000000")),
        "accumulator chain",
        rehash=False,
    ),
    Mutation(
        "human-readable net position changed",
        edit("manifest.json", set_in(("totals", "markets", "ETH-PERP", "net"), lambda v: "0")),
        "accumulator chain",
        rehash=False,
    ),
    Mutation(
        "verification key hash changed",
        edit("manifest.json", set_in(("verification_key_sha256",), lambda v: "2" * 64)),
        "verification key",
        rehash=False,
    ),
    # --- params.json, rehashed: proofs were made with other params ----------------------
    Mutation("price raised", edit("params.json", set_in(("assets", 1, "price"), lambda v: "60000")), "params"),
    Mutation(
        "liability weight lowered",
        edit("params.json", set_in(("assets", 1, "liability_weight_bps"), lambda v: 10000)),
        "params",
    ),
    Mutation(
        "asset weight raised", edit("params.json", set_in(("assets", 1, "asset_weight_bps"), lambda v: 10000)), "params"
    ),
    Mutation(
        "maintenance margin lowered",
        edit("params.json", set_in(("markets", 0, "maintenance_margin_bps"), lambda v: v - 1)),
        "params",
    ),
    Mutation("decimals changed", edit("params.json", set_in(("assets", 0, "decimals"), lambda v: v + 1)), "params"),
    Mutation("symbol renamed", edit("params.json", set_in(("assets", 0, "symbol"), lambda v: "USDT")), "params"),
    Mutation("quote changed", edit("params.json", set_in(("quote",), lambda v: "EUR")), "params"),
    Mutation("two prices swapped", edit("params.json", lambda d: d["markets"].reverse()), "params"),
    Mutation("replayed as another epoch", _replay_other_epoch, "accumulator chain"),
    # --- liquidation figures (issue 11) ---------------------------------------------------------------
    Mutation(
        "accounts below maintenance edited",
        edit("manifest.json", set_in(("liquidations", "accounts_below_maintenance"), lambda v: v + 1)),
        "accumulator chain",
        rehash=False,
    ),
    Mutation(
        "shortfall edited",
        edit("manifest.json", set_in(("liquidations", "shortfall"), lambda v: "12.5")),
        "accumulator chain",
        rehash=False,
    ),
    Mutation(
        "bad debt edited",
        edit("manifest.json", set_in(("liquidations", "bad_debt"), lambda v: "1")),
        "accumulator chain",
        rehash=False,
    ),
    Mutation(
        "bankrupt accounts edited",
        edit("manifest.json", set_in(("liquidations", "bankrupt_accounts"), lambda v: v + 1)),
        "accumulator chain",
        rehash=False,
    ),
    Mutation(
        "coverage flipped",
        edit("manifest.json", set_in(("liquidations", "covered"), lambda v: not v)),
        "accumulator chain",
        rehash=False,
    ),
    Mutation(
        "proved bad debt total edited",
        edit("manifest.json", set_in(("final_accumulator", "totals", -1), bump)),
        "accumulator chain",
        rehash=False,
    ),
    Mutation("insurance fund added to params", edit("params.json", lambda d: d.update(insurance_fund="5")), "params"),
    Mutation("insurance fund added, params hash recomputed", _insurance_fund_raised_consistently, "accumulator chain"),
    # --- self-consistent lies about the shape, rehashed (issue 9 §1) --------------------------------
    Mutation("batch size and capacity doubled together", _batch_size_and_capacity_doubled, "accumulator chain"),
    Mutation("batch size doubled, batches halved", _batch_size_doubled_batches_halved, "accumulator chain"),
    Mutation("batch size beyond the circuit shape", _batch_size_beyond_the_shape, "manifest"),
    Mutation(
        "circuit batch size differs from the published one",
        edit("manifest.json", set_in(("circuit", "batch_size"), lambda v: 2 * v)),
        "manifest",
    ),
    # --- verification key and contract, rehashed -----------------------------------------
    Mutation("IC point changed", edit("verification_key.json", set_in(("IC", 1, 0), bump)), "verification key"),
    Mutation("key from another setup", _foreign_key, "proofs"),
    Mutation("key without phase-2 contribution", _no_contribution_key, "verification key"),
    Mutation(
        "nPublic changed", edit("verification_key.json", set_in(("nPublic",), lambda v: v + 1)), "verification key"
    ),
    Mutation(
        "Verifier.sol constant changed",
        lambda f, c: (f / "Verifier.sol").write_text(
            (f / "Verifier.sol").read_text().replace("deltax1 = ", "deltax1 = 1")
        ),
        "verifier contract",
    ),
    # --- batch roots and public signals, rehashed ---------------------------------------------
    Mutation("batch root + 1", edit("batch_roots.json", set_in((0,), bump)), "root"),
    Mutation("batch roots swapped", edit("batch_roots.json", lambda d: d.reverse()), "root"),
    Mutation("public batch_root + 1", edit("batches/000000/public.json", set_in((0,), bump)), "proofs"),
    Mutation("public acc_in + 1", edit("batches/000000/public.json", set_in((1,), bump)), "accumulator chain"),
    Mutation("public acc_out + 1", edit("batches/000001/public.json", set_in((2,), bump)), "accumulator chain"),
    Mutation(
        "public acc_out of batch 0 + 1", edit("batches/000000/public.json", set_in((2,), bump)), "accumulator chain"
    ),
    Mutation(
        "public signal + r (non-canonical)",
        edit("batches/000001/public.json", set_in((0,), lambda v: str(int(v) + FIELD_MODULUS))),
        "public signals",
    ),
    Mutation("public signal dropped", edit("batches/000000/public.json", lambda d: d[:2]), "public signals"),
    # --- proofs, rehashed -----------------------------------------------------------------------
    Mutation(
        "A negated", edit("batches/000000/proof.json", lambda d: d.__setitem__("pi_a", neg_g1(d["pi_a"]))), "proofs"
    ),
    Mutation("C + 1", edit("batches/000001/proof.json", set_in(("pi_c", 0), bump)), "proofs"),
    Mutation(
        "B coordinates swapped",
        edit("batches/000000/proof.json", lambda d: d["pi_b"].__setitem__(0, d["pi_b"][0][::-1])),
        "proofs",
    ),
    Mutation(
        "A and C swapped",
        edit("batches/000001/proof.json", lambda d: d.update(pi_a=d["pi_c"], pi_c=d["pi_a"])),
        "proofs",
    ),
    Mutation(
        "proofs swapped between batches",
        lambda f, c: (
            shutil.copyfile(f / "batches/000000/proof.json", f / "p0"),
            shutil.copyfile(f / "batches/000001/proof.json", f / "batches/000000/proof.json"),
            shutil.move(f / "p0", f / "batches/000001/proof.json"),
        ),
        "proofs",
    ),
    Mutation(
        "batches reordered", lambda f, c: swap_dirs(f / "batches/000000", f / "batches/000001"), "accumulator chain"
    ),
    Mutation("batch duplicated", _duplicate_batch, "accumulator chain"),
    Mutation("batch dropped", _drop_batch, "accumulator chain"),
]


@pytest.fixture(scope="session")
def mutation_context(small_keys, tmp_path_factory):
    """A second, independent setup of the same shape, and a key with no phase-2 contribution."""
    from zksolv import snarkjs
    from zksolv.ptau import read_ptau_power
    from zksolv.setup import dev_ptau, setup

    folder = tmp_path_factory.mktemp("other-keys")
    other = setup(*small_keys.shape, folder / "keys", force=True)
    power = small_keys.info["ptau"]["power"]
    ptau = dev_ptau(power)
    assert read_ptau_power(ptau) == power
    snarkjs.groth16_setup(small_keys.r1cs, ptau, folder / "phase1.zkey")
    vkey = folder / "uncontributed_vkey.json"
    snarkjs.export_verification_key(folder / "phase1.zkey", vkey)
    return {"other_keys": other, "uncontributed_vkey": vkey}


def available_backends(include_evm: bool) -> dict:
    names = ["snarkjs", "python"] + (["evm"] if include_evm else [])
    found = {}
    for name in names:
        try:
            module = {"python": "zksolv.groth16", "evm": "zksolv.evm"}.get(name)
            if module:
                __import__(module)
            if name == "evm":
                __import__("web3")
        except ImportError:
            continue
        found[name] = BACKENDS[name]
    return found


def run_mutation(bundle, mutation_context, tmp_path, mutation: Mutation, backends: dict) -> None:
    folder = tmp_path / "bundle"
    shutil.copytree(bundle["bundle"], folder)
    mutation.apply(folder, mutation_context)
    if mutation.rehash:
        rehash(folder)
    for name, backend in backends.items():
        report = verify_bundle(folder, backends={name: backend})
        failed = {c.name.split(" (")[0] for c in report.checks if not c.ok}
        assert not report.valid, f"{mutation.name}: accepted by the {name} backend"
        assert mutation.check in failed, (
            f"{mutation.name} ({name}): failed {sorted(failed)}, expected {mutation.check!r}"
        )


def test_there_are_at_least_fifty_mutations():
    assert len(MUTATIONS) >= 50
    assert len({m.name for m in MUTATIONS}) == len(MUTATIONS)


def test_valid_bundle_passes_every_backend(bundle):
    for name, backend in available_backends(include_evm=False).items():
        report = verify_bundle(bundle["bundle"], backends={name: backend})
        assert report.valid, (name, [c for c in report.checks if not c.ok])


@pytest.mark.parametrize("mutation", MUTATIONS, ids=[m.name for m in MUTATIONS])
def test_mutation_rejected(bundle, mutation_context, tmp_path, mutation):
    run_mutation(bundle, mutation_context, tmp_path, mutation, available_backends(include_evm=False))


@pytest.mark.slow
@pytest.mark.parametrize("mutation", MUTATIONS, ids=[m.name for m in MUTATIONS])
def test_mutation_rejected_on_evm(bundle, mutation_context, tmp_path, mutation):
    backends = available_backends(include_evm=True)
    if "evm" not in backends:
        pytest.skip("web3 / py-evm not installed")
    run_mutation(bundle, mutation_context, tmp_path, mutation, {"evm": backends["evm"]})


@pytest.mark.parametrize("old", ["zksolv-bundle/1", "zksolv-bundle/2", "zksolv-bundle/5"])
def test_old_formats_are_refused_with_the_reason(bundle, tmp_path, old):
    folder = tmp_path / "bundle"
    shutil.copytree(bundle["bundle"], folder)
    edit("manifest.json", set_in(("format",), lambda v: old))(folder, {})
    report = verify_bundle(folder, backends={"python": BACKENDS["python"]})
    manifest_check = next(c for c in report.checks if c.name == "manifest")
    assert not report.valid and not manifest_check.ok
    assert f"bundle {old} is no longer accepted" in manifest_check.detail
    assert "ask the venue for a" in manifest_check.detail
