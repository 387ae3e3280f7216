"""The bundle's Solidity verifier and SolvencyRegistry on a real EVM (py-evm).

Each verifyProof costs ~1 s of pure-Python pairing, so the tests share one
chain per fixture and count their pairings. The registry tests that need no
real proof (the stub-verifier attack of issue 9 §3, the on-chain Poseidon2, the
derived acc_0, the bookkeeping) run on the `doubles` chain, independent of the
circuit and of proving; the others on the `env` chain with the bundle's proofs.
"""

from __future__ import annotations

import ast
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
from zksolv.poseidon import hash_chain, poseidon  # noqa: E402

from .helpers import NODE_MODULES, REPO, run_node_json  # noqa: E402

pytestmark = pytest.mark.node

# BN254 base field: −(x, y) = (x, q − y).
Q = 21888242871839275222246405745257275088696311157297823662689037894645226208583


def _read(folder: Path, index: int) -> tuple[dict, list]:
    base = folder / batch_dir(index)
    return json.loads((base / "proof.json").read_text()), json.loads((base / "public.json").read_text())


@pytest.fixture(scope="module")
def env(bundle):
    """One chain: the bundle's verifier, circomlibjs's Poseidon-2 and a registry pinned to both, deployed once."""
    folder = bundle["bundle"]
    manifest = json.loads((folder / "manifest.json").read_text())
    compiled = evm.compile_bundle(folder)
    chain = evm.EvmChain()
    verifier, _ = chain.deploy(evm.artefact(compiled, evm.VERIFIER_CONTRACT))
    poseidon_contract, _ = evm.deploy_poseidon2(chain)
    shape = evm.registry_shape(manifest)
    registry, _ = evm.deploy_registry(chain, compiled, verifier.address, poseidon_contract.address, shape)
    pub = evm.publication(folder, manifest)
    calldata = [evm.proof_calldata(*_read(folder, i)) for i in range(pub.n_batches)]
    return {"folder": folder, "manifest": manifest, "compiled": compiled, "chain": chain, "verifier": verifier,
            "poseidon": poseidon_contract, "shape": shape, "registry": registry, "pub": pub, "calldata": calldata}


def test_valid_bundle_every_batch_verifies(env):
    assert evm.evm_backend(env["folder"], env["manifest"]) == [True, True]  # 2 pairings


def test_report_gas_and_registry_fully_proven(bundle):
    """(d) The honest flow: deploy, publish (acc_0 derived on-chain), submit every real proof. 4 pairings:
    a direct verify and a submit per batch."""
    report = evm.evm_report(bundle["bundle"])
    assert [b["accepted"] for b in report["batches"]] == [True, True]
    assert report["fully_proven"] is True
    for batch in report["batches"]:
        # Receipt gasUsed of a real transaction (21000 base + calldata + pairing).
        assert 200_000 < batch["verify_proof_gas"] <= 230_000
        assert batch["verify_proof_gas"] < batch["submit_gas"] < 400_000
    assert set(report["deploy_gas"]) == {"Groth16Verifier", "Poseidon2", "SolvencyRegistry"}
    assert report["publish_gas"] > 0
    registry = report["registry"]
    assert registry["audit_ok"] is True
    assert registry["poseidon2_codehash"] == POSEIDON2_CODEHASH
    public0 = json.loads((bundle["bundle"] / batch_dir(0) / "public.json").read_text())
    assert registry["acc_0"] == public0[1]  # the chain starts where the registry derived it


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


# ---------------------------------------------------------------------------
# The registry without real proofs (independent of the circuit and of proving): the
# example bundle's Verifier.sol stands for "the audited key" (any snarkjs verifier rejects
# what is not a proof of its key), and an always-true stub is the attacker's verifier of
# issue 9 §3. A registry pinned to the stub is also used, labelled as such, to exercise the
# registry's own bookkeeping (roots, chain links, order) without paying for pairings.

TEST_DOUBLES = """// SPDX-License-Identifier: GPL-3.0-or-later
pragma solidity ^0.8.24;

/// The attacker's verifier (issue 9 section 3): accepts every proof.
contract AlwaysTrueVerifier {
    function verifyProof(uint256[2] calldata, uint256[2][2] calldata, uint256[2] calldata, uint256[3] calldata)
        external pure returns (bool) { return true; }
}

/// A look-alike Poseidon: same ABI, another function (lets acc_0 be anything the deployer likes).
contract FakePoseidon2 {
    function poseidon(uint256[2] calldata) external pure returns (uint256) { return 1; }
}
"""

K, M, B = 4, 4, 16
ZERO_PROOF = evm.ProofCalldata((0, 0), ((0, 0), (0, 0)), (0, 0), (0, 0, 0))
#: keccak256 of the runtime code of circomlibjs 0.1.7 poseidonContract.createCode(2).
POSEIDON2_CODEHASH = "0x354b26999e434f8256d168395315e1f51fc15bf49bf2e6bb58fc549bd597e7da"
OLD_PUBLISH_SIGNATURE = "publishEpoch(uint64,uint256,uint256,uint256,uint256,uint256,address,uint256[])"


def _shape_constant(k: int, m: int, b: int) -> int:
    return k + (m << 16) + (b << 32)  # PROTOCOL §5 Shape(K, M, B)


def _zero_totals_commitment(k: int, m: int, b: int) -> int:
    """Z = HashChain(Shape, 0…0 (2(K+M) totals), 0), recomputed here from zksolv.poseidon alone."""
    return hash_chain([_shape_constant(k, m, b), *[0] * (2 * (k + m)), 0])


def _acc(params_hash: int, totals: list[int], blinding: int) -> int:
    """Format 2: acc = Poseidon2(params_hash, HashChain(Shape, totals…, blinding))."""
    return poseidon([params_hash, hash_chain([_shape_constant(K, M, B), *totals, blinding])])


def _honest_chain(params_hash: int, n: int) -> list[int]:
    """acc_0 … acc_n of a made-up epoch (blinded running totals), by the format-2 formula."""
    accs = [poseidon([params_hash, _zero_totals_commitment(K, M, B)])]
    totals = [0] * (2 * (K + M))
    for i in range(n):
        totals = [t + 7 * (i + 1) + j for j, t in enumerate(totals)]
        accs.append(_acc(params_hash, totals, 1000 + i))
    return accs


def _link(accs: list[int], roots: list[int], index: int) -> evm.ProofCalldata:
    """The all-zero "proof" of batch ``index`` with public signals that link the chain."""
    return dataclasses.replace(ZERO_PROOF, public=(roots[index], accs[index], accs[index + 1]))


def _error_of(chain, contract_artefact: dict, *args) -> str | None:
    """The custom error a constructor reverts with (an eth_call of the deployment), None if it succeeds."""
    from eth_tester.exceptions import TransactionFailed
    from web3.exceptions import ContractLogicError

    factory = chain.w3.eth.contract(abi=contract_artefact["abi"], bytecode=contract_artefact["bytecode"])
    tx = factory.constructor(*args).build_transaction({"from": chain.owner, "gas": evm.DEPLOY_GAS})
    try:
        chain.w3.eth.call({"from": chain.owner, "data": tx["data"], "gas": evm.DEPLOY_GAS})
        return None
    except ContractLogicError as exc:
        raw = exc.data if isinstance(exc.data, (bytes, str)) else None
        raw = bytes.fromhex(raw[2:]) if isinstance(raw, str) else raw
        return chain._error_name(contract_artefact["abi"], raw) if raw else str(exc)
    except TransactionFailed as exc:
        message = str(exc.args[0]) if exc.args else ""
        prefix = "execution reverted: "
        if message.startswith(prefix + "b'") or message.startswith(prefix + 'b"'):
            return chain._error_name(contract_artefact["abi"], ast.literal_eval(message[len(prefix):]))
        return message


@pytest.fixture(scope="module")
def doubles(tmp_path_factory):
    """One chain: a real verifier, the stub, circomlibjs's Poseidon-2, and two registries of
    shape (4, 4, 16): one pinned to the real verifier, one pinned to the stub."""
    example = REPO / "proofs" / "example" / "Verifier.sol"
    if not example.exists():
        pytest.skip("proofs/example/Verifier.sol missing (being regenerated?)")
    folder = tmp_path_factory.mktemp("registry")
    shutil.copy(example, folder / "Verifier.sol")  # a snapshot: the example may be regenerated meanwhile
    (folder / "TestDoubles.sol").write_text(TEST_DOUBLES)
    compiled = evm.compile_contracts([evm.registry_source(), folder / "Verifier.sol", folder / "TestDoubles.sol"])
    chain = evm.EvmChain()
    real, _ = chain.deploy(evm.artefact(compiled, evm.VERIFIER_CONTRACT))
    stub, _ = chain.deploy(evm.artefact(compiled, "AlwaysTrueVerifier"))
    poseidon_contract, poseidon_gas = evm.deploy_poseidon2(chain)
    z = _zero_totals_commitment(K, M, B)
    shape = evm.RegistryShape(K, M, B, z)
    pinned_real, registry_gas = evm.deploy_registry(chain, compiled, real.address, poseidon_contract.address, shape)
    pinned_stub, _ = evm.deploy_registry(chain, compiled, stub.address, poseidon_contract.address, shape)
    return {"chain": chain, "compiled": compiled, "real": real, "stub": stub, "poseidon": poseidon_contract,
            "shape": shape, "pinned_real": pinned_real, "pinned_stub": pinned_stub,
            "gas": {"Poseidon2": poseidon_gas, "SolvencyRegistry": registry_gas}}


def test_zero_totals_commitment_is_zksolvs(doubles):
    """Z recomputed here from Poseidon alone is the lead's zksolv.witness.zero_totals_commitment."""
    from zksolv import witness

    assert doubles["shape"].zero_totals_commitment == witness.zero_totals_commitment(K, M, B)
    assert _acc(5, [0] * (2 * (K + M)), 0) == poseidon([5, doubles["shape"].zero_totals_commitment])
    assert _acc(5, [1] * (2 * (K + M)), 9) == witness.accumulator(5, _shape_constant(K, M, B), [1] * 16, 9)


def test_poseidon2_contract_matches_zksolv_and_circomlibjs(doubles):
    """(c) The on-chain Poseidon2 that derives acc_0 is circomlib's: the same outputs as
    zksolv.poseidon and circomlibjs, including inputs next to r, and the code hash the
    registry pins."""
    chain, contract = doubles["chain"], doubles["poseidon"]
    z = doubles["shape"].zero_totals_commitment
    vectors = [[0, 0], [1, 2], [FIELD_MODULUS - 1, FIELD_MODULUS - 1], [FIELD_MODULUS - 1, 0],
               [0, FIELD_MODULUS - 1], [FIELD_MODULUS - 2, 1], [1 << 253, 12345],
               [int(json.loads((REPO / "proofs" / "example" / "manifest.json").read_text())["params_hash"])
                if (REPO / "proofs" / "example" / "manifest.json").exists() else 42, z]]
    onchain = [chain.call(contract.functions.poseidon(v)) for v in vectors]
    assert onchain == [poseidon(v) for v in vectors]
    assert onchain == [int(x) for x in run_node_json("poseidon.js", [[str(x) for x in v] for v in vectors])]
    assert onchain[1] == 7853200120776062878684798364095072458815029376092732009249414926327459813530
    # The contract reduces its inputs mod r: r aliases 0. Hence the registry's NotAFieldElement checks.
    assert chain.call(contract.functions.poseidon([FIELD_MODULUS, 5])) == poseidon([0, 5])
    # The pinned code hash: circomlibjs's bytecode, and the constant the registry's constructor enforces.
    assert chain.codehash(contract.address) == POSEIDON2_CODEHASH
    assert "0x" + bytes(chain.call(doubles["pinned_real"].functions.POSEIDON2_CODEHASH())).hex() == POSEIDON2_CODEHASH
    assert evm.poseidon2_artefact()["circomlibjs"] == "0.1.7"
    interface = evm.artefact(doubles["compiled"], evm.POSEIDON2_INTERFACE)["abi"]
    assert [(f["name"], [i["type"] for i in f["inputs"]], [o["type"] for o in f["outputs"]]) for f in interface] \
        == [(f["name"], [i["type"] for i in f["inputs"]], [o["type"] for o in f["outputs"]])
            for f in evm.poseidon2_artefact()["abi"]]  # the ABI zksolv calls is the registry's IPoseidon2
    # A pure function of its calldata: no call, storage, log, environment or self-destruct opcode
    # (so its code hash is all there is to check, and it can never change or act elsewhere).
    code, ops, i = bytes(chain.w3.eth.get_code(contract.address)), set(), 0
    while i < len(code):
        ops.add(code[i])
        i += 1 + (code[i] - 0x5F if 0x60 <= code[i] <= 0x7F else 0)  # skip PUSHn data
    allowed = {0x04, 0x08, 0x09, 0x14, 0x17, 0x35, 0x50, 0x51, 0x52, 0x56, 0x57, 0x5B, 0xF3, 0xFE,
               *range(0x60, 0xA0)}  # DIV ADDMOD MULMOD EQ OR CALLDATALOAD POP MLOAD MSTORE JUMP(I/DEST)
    assert ops <= allowed, sorted(hex(o) for o in ops - allowed)  # RETURN INVALID PUSH DUP SWAP


def test_stub_verifier_attack_all_zero_proofs_are_rejected(doubles):
    """(a) Issue 9 §3 / F3: all-zero "proofs" that a stub verifier would accept, with public
    signals that link the chain exactly. The registry pinned to the real verifier rejects
    every one (InvalidProof; nothing recorded), and it has no way to take another verifier.
    2 verifier calls."""
    chain, registry, stub = doubles["chain"], doubles["pinned_real"], doubles["stub"]
    epoch, params_hash, roots = 1_900_000_000, 1234567, [11, 22]
    accs = _honest_chain(params_hash, 2)
    assert evm.publish(chain, registry, evm.Publication(epoch, 99, params_hash, accs[-1], tuple(roots))).status == 1
    # The stub would accept them: this is the attack the old publishEpoch(…, verifier, …) allowed.
    assert chain.call(stub.functions.verifyProof(*_link(accs, roots, 0).args())) is True
    for index in range(2):
        fn = evm.submit_fn(registry, epoch, index, _link(accs, roots, index))
        assert chain.revert_error(fn) == "InvalidProof"
        assert chain.transact(fn).status == 0
        assert chain.call(registry.functions.batchRecord(epoch, index))[0] is False
    assert chain.call(registry.functions.isFullyProven(epoch)) is False
    assert chain.call(registry.functions.epochInfo(epoch))[-2:] == [0, False]

    # No way to point this registry at the stub: no function takes an address …
    abi = evm.artefact(doubles["compiled"], evm.REGISTRY_CONTRACT)["abi"]
    for item in abi:
        if item["type"] == "function":
            assert all("address" not in i["type"] for i in item["inputs"]), item["name"]
    publish_inputs = next(i for i in abi if i.get("name") == "publishEpoch")["inputs"]
    assert [i["name"] for i in publish_inputs] == ["epoch", "root", "paramsHash", "accN", "nBatches", "batchRoots"]
    # … the old publishEpoch(…, address verifier, …) selector is gone (no fallback either) …
    from eth_abi import encode

    selector = chain.w3.keccak(text=OLD_PUBLISH_SIGNATURE)[:4]
    data = selector + encode(["uint64", "uint256", "uint256", "uint256", "uint256", "uint256", "address",
                              "uint256[]"], [epoch + 1, 99, params_hash, accs[0], accs[-1], 2, stub.address, roots])
    tx = chain.w3.eth.send_transaction({"from": chain.owner, "to": registry.address, "data": data,
                                        "gas": evm.CALL_GAS})
    assert chain.w3.eth.get_transaction_receipt(tx).status == 0
    assert chain.call(registry.functions.epochInfo(epoch + 1))[4] == 0  # nothing published
    # … and the verifier is an immutable: part of the runtime code, not of storage.
    assert chain.call(registry.functions.verifier()) == doubles["real"].address
    assert bytes.fromhex(doubles["real"].address[2:]) in bytes(chain.w3.eth.get_code(registry.address))


def test_registry_pinned_to_a_stub_fails_the_audit(doubles):
    """Anyone can still deploy a registry pinned to a stub, and there the all-zero proofs do make
    isFullyProven true. What exposes it is the once-per-registry check of the immutables:
    the verifier's code hash is not the audited key's."""
    chain, registry = doubles["chain"], doubles["pinned_stub"]
    epoch, params_hash, roots = 1_900_000_000, 1234567, [11, 22]
    accs = _honest_chain(params_hash, 2)
    assert evm.publish(chain, registry, evm.Publication(epoch, 99, params_hash, accs[-1], tuple(roots))).status == 1
    for index in range(2):
        assert chain.transact(evm.submit_fn(registry, epoch, index, _link(accs, roots, index))).status == 1
    assert chain.call(registry.functions.isFullyProven(epoch)) is True  # says nothing: see the audit

    audited = evm.runtime_codehash(chain, evm.artefact(doubles["compiled"], evm.VERIFIER_CONTRACT))
    report = evm.audit_registry(chain, registry, audited, doubles["shape"], expected_owner=chain.owner)
    assert report["ok"] is False
    assert [c["name"] for c in report["checks"] if not c["ok"]] == ["verifier code is the audited key's"]
    assert report["registry"]["verifier"] == doubles["stub"].address
    good = evm.audit_registry(chain, doubles["pinned_real"], audited, doubles["shape"], expected_owner=chain.owner)
    assert good["ok"] is True, good["checks"]
    other_shape = dataclasses.replace(doubles["shape"], zero_totals_commitment=_zero_totals_commitment(K, M, 2 * B))
    assert evm.audit_registry(chain, doubles["pinned_real"], audited, other_shape)["ok"] is False


def test_constructor_pins_only_what_it_can_check(doubles):
    chain, compiled = doubles["chain"], doubles["compiled"]
    registry = evm.artefact(compiled, evm.REGISTRY_CONTRACT)
    real, poseidon_address = doubles["real"].address, doubles["poseidon"].address
    z = doubles["shape"].zero_totals_commitment
    fake, _ = chain.deploy(evm.artefact(compiled, "FakePoseidon2"))
    assert _error_of(chain, registry, real, poseidon_address, B, z) is None
    assert _error_of(chain, registry, chain.accounts[3], poseidon_address, B, z) == "VerifierHasNoCode"
    assert _error_of(chain, registry, real, fake.address, B, z) == "WrongPoseidonCode"
    assert _error_of(chain, registry, real, chain.accounts[3], B, z) == "WrongPoseidonCode"
    assert _error_of(chain, registry, real, poseidon_address, 0, z) == "ZeroBatchSize"
    assert _error_of(chain, registry, real, poseidon_address, B, z + FIELD_MODULUS) == "NotAFieldElement"
    with pytest.raises(evm.EvmError):
        evm.deploy_registry(chain, compiled, real, fake.address, doubles["shape"])
    fns = doubles["pinned_real"].functions
    assert (chain.call(fns.batchSize()), chain.call(fns.zeroTotalsCommitment()), chain.call(fns.poseidon2()),
            chain.call(fns.owner())) == (B, z, poseidon_address, chain.owner)


def test_acc0_is_derived_not_registered(doubles):
    """(b) acc_0 = Poseidon2(paramsHash, Z), computed on-chain; there is no acc0 argument. A batch 0
    whose acc_in is anything else — format 1's HashChain(params_hash, 0…0, 0), another params
    hash's acc_0 — breaks the chain at link 0, even through a verifier that accepts everything."""
    chain, registry = doubles["chain"], doubles["pinned_stub"]
    params_hash, roots = 777, [31, 32]
    accs = _honest_chain(params_hash, 2)
    derived = poseidon([params_hash, doubles["shape"].zero_totals_commitment])
    assert accs[0] == derived
    receipt = evm.publish(chain, registry, evm.Publication(1_910_000_000, 99, params_hash, accs[-1], tuple(roots)))
    (published,) = _events(registry, "EpochPublished", receipt)
    assert published.args.acc0 == derived == chain.call(registry.functions.epochInfo(1_910_000_000))[2]

    format1_acc0 = hash_chain([params_hash, *[0] * (2 * (K + M)), 0])
    other_params_acc0 = poseidon([params_hash + 1, doubles["shape"].zero_totals_commitment])
    for offset, start in [(1, format1_acc0), (2, other_params_acc0), (3, 0)]:
        epoch = 1_910_000_000 + offset
        assert evm.publish(chain, registry, evm.Publication(epoch, 99, params_hash, accs[-1], tuple(roots))).status == 1
        forged = [start, *accs[1:]]
        first = chain.transact(evm.submit_fn(registry, epoch, 0, _link(forged, roots, 0)))
        assert first.status == 1  # the stub accepts it …
        assert [e.args.index for e in _events(registry, "ChainBroken", first)] == [0]  # … the chain does not
        second = chain.transact(evm.submit_fn(registry, epoch, 1, _link(forged, roots, 1)))
        assert _events(registry, "EpochFullyProven", second) == ()
        assert chain.call(registry.functions.isFullyProven(epoch)) is False

    # Only canonical field elements are registered (Poseidon would alias paramsHash + r to paramsHash).
    fns = registry.functions
    assert chain.revert_error(fns.publishEpoch(1_920_000_000, 1, params_hash + FIELD_MODULUS, 1, 2, [])) \
        == "NotAFieldElement"
    assert chain.revert_error(fns.publishEpoch(1_920_000_000, FIELD_MODULUS, params_hash, 1, 2, [])) \
        == "NotAFieldElement"
    assert chain.revert_error(fns.publishEpoch(1_920_000_000, 1, params_hash, FIELD_MODULUS, 2, [])) \
        == "NotAFieldElement"
    assert chain.revert_error(fns.publishEpoch(1_920_000_000, 1, params_hash, 1, 2, [1, FIELD_MODULUS])) \
        == "NotAFieldElement"


def test_registry_bookkeeping_chunked_roots_any_order(doubles):
    """The registry's own checks (stub-pinned registry: every proof passes, so only they act):
    roots published in two transactions, batches submitted 2, 0, 1 with each chain link checked
    when its second end arrives, the cheap rejections, and a broken middle link."""
    chain, registry = doubles["chain"], doubles["pinned_stub"]
    fns = registry.functions
    epoch, params_hash, roots = 1_930_000_000, 4242, [41, 42, 43]
    accs = _honest_chain(params_hash, 3)
    assert chain.transact(fns.publishEpoch(epoch, 99, params_hash, accs[-1], 3, roots[:1])).status == 1
    # Publication is immutable and the venue's alone.
    assert chain.revert_error(fns.publishEpoch(epoch, 1, 1, 1, 2, [])) == "EpochAlreadyPublished"
    assert chain.revert_error(fns.publishEpoch(epoch + 1, 1, 1, 1, 2, []), sender=chain.accounts[1]) == "NotOwner"
    assert chain.revert_error(fns.appendBatchRoots(epoch, roots[1:]), sender=chain.accounts[1]) == "NotOwner"
    assert chain.revert_error(fns.publishEpoch(epoch + 1, 1, 1, 1, 0, [])) == "NoBatches"
    assert chain.revert_error(fns.publishEpoch(epoch + 1, 1, 1, 1, 1 << 24, [])) == "TooManyBatches"
    assert chain.revert_error(fns.appendBatchRoots(epoch + 1, [1])) == "EpochNotPublished"

    assert chain.revert_error(evm.submit_fn(registry, epoch, 2, _link(accs, roots, 2))) == "BatchRootNotPublished"
    assert chain.transact(fns.appendBatchRoots(epoch, roots[1:])).status == 1
    assert chain.revert_error(fns.appendBatchRoots(epoch, [1])) == "TooManyBatchRoots"
    assert [chain.call(fns.publishedBatchRoot(epoch, i)) for i in range(3)] == roots
    assert chain.revert_error(evm.submit_fn(registry, epoch, 0, _link(accs, [7, *roots[1:]], 0))) == "WrongBatchRoot"
    assert chain.revert_error(evm.submit_fn(registry, epoch, 3, _link([*accs, 0], [*roots, 0], 3))) \
        == "IndexOutOfRange"
    assert chain.revert_error(evm.submit_fn(registry, epoch + 1, 0, _link(accs, roots, 0))) == "EpochNotPublished"

    for index in (2, 0):
        receipt = chain.transact(evm.submit_fn(registry, epoch, index, _link(accs, roots, index)))
        assert receipt.status == 1 and _events(registry, "ChainBroken", receipt) == ()
        assert chain.call(fns.isFullyProven(epoch)) is False
    assert chain.revert_error(evm.submit_fn(registry, epoch, 0, _link(accs, roots, 0))) == "BatchAlreadyProven"
    last = chain.transact(evm.submit_fn(registry, epoch, 1, _link(accs, roots, 1)))
    assert _events(registry, "ChainBroken", last) == ()
    assert [e.args.epoch for e in _events(registry, "EpochFullyProven", last)] == [epoch]
    assert chain.call(fns.isFullyProven(epoch)) is True
    assert chain.call(fns.batchRecord(epoch, 1)) == [True, accs[1], accs[2]]

    # A middle batch that does not continue its predecessor: reported when its second end arrives.
    epoch += 1
    assert chain.transact(fns.publishEpoch(epoch, 99, params_hash, accs[-1], 3, roots)).status == 1
    skipped = [accs[0], accs[1], accs[1], accs[3]]  # batch 1 "adds nothing"; batch 2 starts from acc_1
    for index in (0, 2):
        assert chain.transact(evm.submit_fn(registry, epoch, index, _link(accs, roots, index))).status == 1
    receipt = chain.transact(evm.submit_fn(registry, epoch, 1, _link(skipped, roots, 1)))
    assert [e.args.index for e in _events(registry, "ChainBroken", receipt)] == [2]
    assert chain.call(fns.isFullyProven(epoch)) is False
    assert chain.call(fns.epochInfo(epoch))[-2:] == [3, True]


# ---------------------------------------------------------------------------
# The registry with the bundle's real proofs


def test_registry_with_real_proofs_rejects_and_reports_broken_chains(env):
    """Valid proofs under a claim they do not prove: another acc_n (broken last link), another
    params hash (the derived acc_0 is not the proofs' acc_in: broken first link). 4 pairings."""
    chain, registry, pub = env["chain"], env["registry"], env["pub"]
    wrong = dataclasses.replace(pub, epoch=pub.epoch + 1, acc_n=(pub.acc_n + 1) % FIELD_MODULUS)
    assert evm.publish(chain, registry, wrong).status == 1
    epoch = wrong.epoch
    # Cheap rejections (before the verifier runs).
    other_root = _calldata_with(env, 0, public=[env["calldata"][1].public[0], *env["calldata"][0].public[1:]])
    assert chain.revert_error(_submit(env, epoch, 0, other_root)) == "WrongBatchRoot"
    assert chain.revert_error(_submit(env, epoch, 2, env["calldata"][1])) == "IndexOutOfRange"

    receipt = chain.transact(_submit(env, epoch, 0))
    assert receipt.status == 1
    assert [e.args.index for e in _events(registry, "BatchAccepted", receipt)] == [0]
    assert chain.call(registry.functions.isFullyProven(epoch)) is False  # batch 1 missing
    assert chain.call(registry.functions.batchRecord(epoch, 0)) == [True, *env["calldata"][0].public[1:]]
    assert chain.revert_error(_submit(env, epoch, 0)) == "BatchAlreadyProven"

    x, y = env["calldata"][1].a
    failed = chain.transact(_submit(env, epoch, 1, _calldata_with(env, 1, a=(x, Q - y))))
    assert failed.status == 0  # mined, reverted (InvalidProof), nothing recorded
    assert chain.call(registry.functions.batchRecord(epoch, 1))[0] is False

    receipt = chain.transact(_submit(env, epoch, 1))
    assert receipt.status == 1
    assert [e.args.index for e in _events(registry, "ChainBroken", receipt)] == [2]  # acc_out(1) ≠ acc_n
    assert _events(registry, "EpochFullyProven", receipt) == ()
    assert chain.call(registry.functions.isFullyProven(epoch)) is False
    assert chain.call(registry.functions.epochInfo(epoch))[-2:] == [2, True]  # all batches proven, chain broken

    # Another params hash: its derived acc_0 is not where the real proofs start.
    other = dataclasses.replace(pub, epoch=pub.epoch + 2, params_hash=(pub.params_hash + 1) % FIELD_MODULUS)
    assert evm.publish(chain, registry, other).status == 1
    receipt = chain.transact(_submit(env, other.epoch, 0))
    assert receipt.status == 1
    assert [e.args.index for e in _events(registry, "ChainBroken", receipt)] == [0]


def test_registry_with_real_proofs_in_reverse_order(env):
    """The honest publication on the shared chain, batches submitted 1 then 0. 2 pairings."""
    chain, registry, pub = env["chain"], env["registry"], env["pub"]
    assert evm.publish(chain, registry, pub).status == 1
    info = chain.call(registry.functions.epochInfo(pub.epoch))
    assert info[2] == env["calldata"][0].public[1]  # derived acc_0 = the proofs' acc_in of batch 0
    first = chain.transact(_submit(env, pub.epoch, 1))
    assert first.status == 1 and _events(registry, "ChainBroken", first) == ()
    second = chain.transact(_submit(env, pub.epoch, 0))
    assert _events(registry, "ChainBroken", second) == ()
    assert [e.args.epoch for e in _events(registry, "EpochFullyProven", second)] == [pub.epoch]
    assert chain.call(registry.functions.isFullyProven(pub.epoch)) is True


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
