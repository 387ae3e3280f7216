"""The bundle's Solidity verifier and SolvencyRegistry on a real EVM (py-evm).

Each verifyProof costs ~1 s of pure-Python pairing, so the tests share one
chain with both contracts deployed and count their pairings.
"""

from __future__ import annotations

import copy
import dataclasses
import importlib
import json
import shutil
import subprocess
from pathlib import Path

import pytest

pytest.importorskip("web3")
pytest.importorskip("eth_tester")

from zksolv import evm  # noqa: E402
from zksolv.bundle import batch_dir  # noqa: E402
from zksolv.field import FIELD_MODULUS  # noqa: E402

from .helpers import NODE_MODULES, REPO  # noqa: E402

pytestmark = pytest.mark.node

# BN254 base field: −(x, y) = (x, q − y).
Q = 21888242871839275222246405745257275088696311157297823662689037894645226208583


def _read(folder: Path, index: int) -> tuple[dict, list]:
    base = folder / batch_dir(index)
    return json.loads((base / "proof.json").read_text()), json.loads((base / "public.json").read_text())


@pytest.fixture(scope="module")
def env(bundle):
    """One chain: the bundle's verifier and a registry, deployed once."""
    folder = bundle["bundle"]
    manifest = json.loads((folder / "manifest.json").read_text())
    compiled = evm.compile_bundle(folder)
    chain = evm.EvmChain()
    verifier, _ = chain.deploy(evm.artefact(compiled, evm.VERIFIER_CONTRACT))
    registry, _ = chain.deploy(evm.artefact(compiled, evm.REGISTRY_CONTRACT))
    pub = evm.publication(folder, manifest)
    calldata = [evm.proof_calldata(*_read(folder, i)) for i in range(pub.n_batches)]
    return {"folder": folder, "manifest": manifest, "compiled": compiled, "chain": chain, "verifier": verifier,
            "registry": registry, "pub": pub, "calldata": calldata}


def test_valid_bundle_every_batch_verifies(env):
    assert evm.evm_backend(env["folder"], env["manifest"]) == [True, True]  # 2 pairings


def test_report_gas_and_registry_fully_proven(bundle):
    report = evm.evm_report(bundle["bundle"])  # 4 pairings: a direct verify and a submit per batch
    assert report["fully_proven"] is True
    assert [b["accepted"] for b in report["batches"]] == [True, True]
    for batch in report["batches"]:
        # Receipt gasUsed of a real transaction (21000 base + calldata + pairing).
        assert 200_000 < batch["verify_proof_gas"] <= 230_000
        assert batch["verify_proof_gas"] < batch["submit_gas"] < 400_000
    assert set(report["deploy_gas"]) == {"Groth16Verifier", "SolvencyRegistry"}
    assert report["publish_gas"] > 0


def _calldata_with(env, index=0, a=None, b=None, c=None, public=None) -> evm.ProofCalldata:
    cd = env["calldata"][index]
    return evm.ProofCalldata(a or cd.a, b or cd.b, c or cd.c, tuple(public) if public else cd.public)


def test_tampered_public_signal_is_rejected(env):
    cd = env["calldata"][0]
    bumped = list(cd.public)
    bumped[2] = (bumped[2] + 1) % FIELD_MODULUS  # another acc_out
    assert evm.verify_calldata(env["chain"], env["verifier"], _calldata_with(env, public=bumped)) is False


def test_aliased_public_signal_is_rejected(env):
    """x + r is the same field element as x: the contract must refuse it (checkField),
    or one proof would verify for two different uint256 statements."""
    cd = env["calldata"][0]
    aliased = [cd.public[0] + FIELD_MODULUS, *cd.public[1:]]
    assert aliased[0] < 1 << 256
    assert evm.verify_calldata(env["chain"], env["verifier"], _calldata_with(env, public=aliased)) is False


def test_negated_a_is_rejected(env):
    x, y = env["calldata"][0].a
    assert evm.verify_calldata(env["chain"], env["verifier"], _calldata_with(env, a=(x, (Q - y) % Q))) is False


def test_g2_in_json_order_is_rejected(env):
    """proof.json's (c0, c1) passed as-is, without the EVM's (c1, c0) swap."""
    (x1, x0), (y1, y0) = env["calldata"][0].b
    assert evm.verify_calldata(env["chain"], env["verifier"], _calldata_with(env, b=((x0, x1), (y0, y1)))) is False


def test_calldata_matches_snarkjs(env):
    folder = env["folder"]
    exported = evm.export_calldata(folder)
    assert [e["index"] for e in exported] == [0, 1]
    base = folder / batch_dir(1)
    proc = subprocess.run(["node", str(NODE_MODULES / "snarkjs" / "build" / "cli.cjs"), "zkey", "export",
                           "soliditycalldata", str(base / "public.json"), str(base / "proof.json")],
                          capture_output=True, text=True, check=True, cwd=REPO)
    assert exported[1]["solidity"] == proc.stdout.strip()
    # The same values, parsed back: snarkjs prints a, b (EVM order), c, public.
    a, b, c, public = json.loads(f"[{proc.stdout}]")
    assert (exported[1]["a"], exported[1]["b"], exported[1]["c"], exported[1]["public"]) == (a, b, c, public)
    assert [int(x, 16) for x in public] == [int(x) for x in json.loads((base / "public.json").read_text())]
    assert exported[1]["decimal"]["a"] == [str(int(x, 16)) for x in a]
    # Transaction data: the selector of the compiled ABI, then 11 static words.
    abi = evm.artefact(env["compiled"], evm.VERIFIER_CONTRACT)["abi"]
    fn = env["verifier"].functions.verifyProof(*env["calldata"][1].args())
    assert fn._encode_transaction_data() == exported[1]["data"]
    assert any(i.get("name") == "verifyProof" for i in abi)
    assert env["chain"].w3.keccak(text="verifyProof(uint256[2],uint256[2][2],uint256[2],uint256[3])")[:4].hex() \
        == evm.VERIFY_PROOF_SELECTOR[2:]


def test_proof_calldata_refuses_what_it_cannot_encode(env):
    proof, public = _read(env["folder"], 0)
    for bad_proof, bad_public in [
        (proof, public[:2]),                                            # 2 signals
        ({**proof, "pi_a": [proof["pi_a"][0], proof["pi_a"][1], "2"]}, public),  # projective z ≠ 1
        ({**proof, "pi_c": [str(1 << 256), proof["pi_c"][1], "1"]}, public),    # not a uint256
        (proof, [public[0], "-1", public[2]]),
    ]:
        with pytest.raises(ValueError):
            evm.proof_calldata(bad_proof, bad_public)


def _events(registry, name: str, receipt) -> tuple:
    from web3.logs import DISCARD

    return getattr(registry.events, name)().process_receipt(receipt, errors=DISCARD)


def _submit(env, epoch: int, index: int, cd=None):
    return evm.submit_fn(env["registry"], epoch, index, cd or env["calldata"][index])


def test_registry_rejects_and_reports_partial_or_broken_chains(env):
    """Epoch published with a different acc_n: every proof is valid, yet the epoch is
    never fully proven. 3 pairings."""
    chain, registry, pub = env["chain"], env["registry"], env["pub"]
    wrong = dataclasses.replace(pub, epoch=pub.epoch + 1, acc_n=(pub.acc_n + 1) % FIELD_MODULUS)
    assert evm.publish(chain, registry, wrong, env["verifier"].address).status == 1
    epoch = wrong.epoch
    # Publication is immutable and the venue's alone.
    assert chain.revert_error(registry.functions.publishEpoch(epoch, 1, 1, 1, 1, 2, env["verifier"].address, [])) \
        == "EpochAlreadyPublished"
    assert chain.revert_error(registry.functions.publishEpoch(epoch + 99, 1, 1, 1, 1, 2, env["verifier"].address, []),
                              sender=chain.accounts[1]) == "NotOwner"
    assert chain.revert_error(registry.functions.publishEpoch(epoch + 99, 1, 1, 1, 1, 2, chain.accounts[2], [])) \
        == "VerifierHasNoCode"
    # Cheap rejections (before the verifier runs).
    other_root = _calldata_with(env, 0, public=[env["calldata"][1].public[0], *env["calldata"][0].public[1:]])
    assert chain.revert_error(_submit(env, epoch, 0, other_root)) == "WrongBatchRoot"
    assert chain.revert_error(_submit(env, epoch, 2, env["calldata"][1])) == "IndexOutOfRange"
    assert chain.revert_error(_submit(env, epoch + 99, 0)) == "EpochNotPublished"

    receipt = chain.transact(_submit(env, epoch, 0))
    assert receipt.status == 1
    assert [e.args.index for e in _events(registry, "BatchAccepted", receipt)] == [0]
    assert chain.call(registry.functions.isFullyProven(epoch)) is False  # batch 1 missing
    assert chain.call(registry.functions.batchRecord(epoch, 0)) == [True, *env["calldata"][0].public[1:]]
    assert chain.revert_error(_submit(env, epoch, 0)) == "BatchAlreadyProven"

    x, y = env["calldata"][1].a
    assert chain.revert_error(_submit(env, epoch, 1, _calldata_with(env, 1, a=(x, Q - y)))) == "InvalidProof"
    failed = chain.transact(_submit(env, epoch, 1, _calldata_with(env, 1, a=(x, Q - y))))
    assert failed.status == 0  # mined, reverted, nothing recorded

    receipt = chain.transact(_submit(env, epoch, 1))
    assert receipt.status == 1
    assert [e.args.index for e in _events(registry, "ChainBroken", receipt)] == [2]  # acc_out(1) ≠ acc_n
    assert _events(registry, "EpochFullyProven", receipt) == ()
    assert chain.call(registry.functions.isFullyProven(epoch)) is False
    info = chain.call(registry.functions.epochInfo(epoch))
    assert info[-2:] == [2, True]  # all batches proven, chain broken


def test_registry_chunked_roots_and_out_of_order_submission(env):
    """Roots published in two transactions; batches submitted 1 then 0: the chain is
    checked link by link as the second end of each link arrives. 2 pairings."""
    chain, registry, pub = env["chain"], env["registry"], env["pub"]
    epoch = pub.epoch + 2
    fn = registry.functions.publishEpoch(epoch, pub.root, pub.params_hash, pub.acc_0, pub.acc_n, 2,
                                         env["verifier"].address, [pub.batch_roots[0]])
    assert chain.transact(fn).status == 1
    assert chain.revert_error(_submit(env, epoch, 1)) == "BatchRootNotPublished"
    assert chain.transact(registry.functions.appendBatchRoots(epoch, [pub.batch_roots[1]])).status == 1
    assert chain.revert_error(registry.functions.appendBatchRoots(epoch, [1])) == "TooManyBatchRoots"

    first = chain.transact(_submit(env, epoch, 1))
    assert first.status == 1 and _events(registry, "ChainBroken", first) == ()
    assert chain.call(registry.functions.isFullyProven(epoch)) is False
    second = chain.transact(_submit(env, epoch, 0))
    assert _events(registry, "ChainBroken", second) == ()
    assert [e.args.epoch for e in _events(registry, "EpochFullyProven", second)] == [epoch]
    assert chain.call(registry.functions.isFullyProven(epoch)) is True


def test_backend_on_a_tampered_bundle_copy(env, tmp_path):
    """The backend reads the files: a proof.json edited in place gives False for that batch only,
    and an unparsable one is a rejection, not a crash. 1 pairing (batch 1 cannot be encoded)."""
    folder = tmp_path / "bundle"
    shutil.copytree(env["folder"], folder)
    proof, _ = _read(folder, 1)
    proof["pi_b"][0] = ["x", "y"]
    (folder / batch_dir(1) / "proof.json").write_text(json.dumps(proof))
    proof0, public0 = _read(folder, 0)
    public0[1] = str((int(public0[1]) + 1) % FIELD_MODULUS)
    (folder / batch_dir(0) / "public.json").write_text(json.dumps(public0))
    assert evm.evm_backend(folder, env["manifest"]) == [False, False]


# ---------------------------------------------------------------------------
# Malformed proofs from tests/malformed_proofs.py (written alongside), if present.

_MALFORMED = Path(__file__).with_name("malformed_proofs.py")


def _malformed_module():
    return importlib.import_module(f"{__package__}.malformed_proofs")


def _malformed_cases(env) -> list:
    module = _malformed_module()
    vkey = json.loads((env["folder"] / "verification_key.json").read_text())
    proof, public = _read(env["folder"], 0)
    return vkey, module.malformed_cases(copy.deepcopy(vkey), copy.deepcopy(proof), copy.deepcopy(public),
                                        other=_read(env["folder"], 1))


@pytest.mark.skipif(not _MALFORMED.exists(), reason="tests/malformed_proofs.py not present")
def test_evm_rejects_every_malformed_proof(env, tmp_path):
    """One eth_call per case on the deployed key; cases with another key need their own
    verifier: redeployed for the wrong-key case(s), skipped otherwise (a compile each)."""
    vkey, cases = _malformed_cases(env)
    assert cases
    other_key = [name for name, case_vkey, _, _ in cases if case_vkey != vkey]
    # Redeploy (a compile each) for the wrong-key case(s), at most two; skip the other key edits.
    redeploy = ([n for n in other_key if "key" in n.lower()] or other_key)[:2]
    accepted, checked = [], 0
    for name, case_vkey, proof, public in cases:
        verifier = env["verifier"]
        if case_vkey != vkey:
            if name not in redeploy:
                continue
            try:
                verifier = _deploy_for_key(env, case_vkey, tmp_path / f"vk{redeploy.index(name)}")
            except evm.EvmError:
                continue  # snarkjs's template cannot even render/compile a verifier for this key
        try:
            cd = evm.proof_calldata(proof, public)
        except ValueError:
            continue  # cannot be verifyProof's arguments: evm_backend rejects it before the chain
        checked += 1
        if evm.verify_calldata(env["chain"], verifier, cd):
            accepted.append(name)
    assert accepted == [], f"the EVM verifier accepted malformed proofs: {accepted}"
    assert checked > 0


@pytest.mark.skipif(not _MALFORMED.exists(), reason="tests/malformed_proofs.py not present")
def test_evm_backend_rejects_noncanonical_encodings(env):
    """Other spellings of the valid proof (snarkjs reads them, zksolv.groth16 refuses them):
    the EVM backend refuses them too — by parsing, or on-chain for coordinates ≥ q."""
    vkey = json.loads((env["folder"] / "verification_key.json").read_text())
    proof, public = _read(env["folder"], 0)
    cases = _malformed_module().noncanonical_encodings(vkey, proof, public)
    assert cases
    accepted = []
    for name, _, case_proof, case_public in cases:
        try:
            cd = evm.proof_calldata(case_proof, case_public)
        except ValueError:
            continue
        if evm.verify_calldata(env["chain"], env["verifier"], cd):
            accepted.append(name)
    assert accepted == []


def _deploy_for_key(env, vkey: dict, folder: Path):
    """snarkjs's verifier template for another key, compiled and deployed on the shared chain."""
    folder.mkdir()
    (folder / "verification_key.json").write_text(json.dumps(vkey))
    (folder / "Verifier.sol").write_text(evm.render_verifier(folder / "verification_key.json"))
    compiled = evm.compile_contracts([folder / "Verifier.sol"])
    contract, _ = env["chain"].deploy(evm.artefact(compiled, evm.VERIFIER_CONTRACT))
    return env["chain"].at(contract.address, evm.artefact(env["compiled"], evm.VERIFIER_INTERFACE)["abi"])
