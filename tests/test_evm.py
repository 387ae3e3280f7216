"""The bundle's Solidity verifier and SolvencyRegistry on a real EVM (py-evm).

Each verifyProof costs ~1 s of pure-Python pairing, so the tests share one
chain per fixture and count their pairings. The registry tests that need no
real proof (the stub-verifier attack of issue 9 §3, the on-chain Poseidon2 and
Poseidon8, HashChain8 and Z computed on-chain, the derived acc_0, the
bookkeeping) run on the `doubles` chain, independent of the circuit and of
proving; the others on the `env` chain with the bundle's proofs, or on the
`liquidation` chain with a bundle that counts accounts below maintenance
(issue 11: the final opening and its figures on-chain).
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
from zksolv.poseidon import hash_chain, hash_chain8, poseidon  # noqa: E402

from .helpers import NODE_MODULES, REPO, run_node_json  # noqa: E402

pytestmark = pytest.mark.node

# BN254 base field: −(x, y) = (x, q − y).
Q = 21888242871839275222246405745257275088696311157297823662689037894645226208583


def _read(folder: Path, index: int) -> tuple[dict, list]:
    base = folder / batch_dir(index)
    return json.loads((base / "proof.json").read_text()), json.loads((base / "public.json").read_text())


def _registry_chain(folder: Path) -> dict:
    """One chain: the bundle's verifier, the Poseidon-2 and Poseidon-8 contracts and a registry pinned to
    them and to the bundle's shape, deployed once."""
    manifest = json.loads((folder / "manifest.json").read_text())
    compiled = evm.compile_bundle(folder)
    chain = evm.EvmChain()
    verifier, _ = chain.deploy(evm.artefact(compiled, evm.VERIFIER_CONTRACT))
    poseidon_contract, _ = evm.deploy_poseidon2(chain)
    poseidon8_contract, _ = evm.deploy_poseidon8(chain)
    shape = evm.registry_shape(manifest)
    registry, _ = evm.deploy_registry(
        chain, compiled, verifier.address, poseidon_contract.address, poseidon8_contract.address, shape
    )
    pub = evm.publication(folder, manifest)
    calldata = [evm.proof_calldata(*_read(folder, i)) for i in range(pub.n_batches)]
    return {
        "folder": folder,
        "manifest": manifest,
        "compiled": compiled,
        "chain": chain,
        "verifier": verifier,
        "poseidon": poseidon_contract,
        "poseidon8": poseidon8_contract,
        "shape": shape,
        "registry": registry,
        "pub": pub,
        "calldata": calldata,
    }


@pytest.fixture(scope="module")
def env(bundle):
    return _registry_chain(bundle["bundle"])


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
    assert set(report["deploy_gas"]) == {"Groth16Verifier", "Poseidon2", "Poseidon8", "SolvencyRegistry"}
    assert report["publish_gas"] > 0
    # The honest example has no account below maintenance: the opened figures are all zero.
    assert report["fully_proven_and_opened"] is True and report["open_gas"] > 0
    assert (
        report["liquidations"]["accounts_below_maintenance"],
        report["liquidations"]["shortfall"],
        report["liquidations"]["bankrupt_accounts"],
        report["liquidations"]["bad_debt"],
    ) == (0, "0", 0, "0")
    registry = report["registry"]
    assert registry["audit_ok"] is True
    assert registry["poseidon2_codehash"] == POSEIDON2_CODEHASH
    assert registry["poseidon8_codehash"] == POSEIDON8_CODEHASH
    assert registry["zero_totals_commitment"] == str(witness_z(2, 2, 4))
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
    exported = evm.export_calldata(folder)["batches"]
    assert [e["index"] for e in exported] == [0, 1]
    base = folder / batch_dir(1)
    proc = subprocess.run(
        [
            "node",
            str(NODE_MODULES / "snarkjs" / "build" / "cli.cjs"),
            "zkey",
            "export",
            "soliditycalldata",
            str(base / "public.json"),
            str(base / "proof.json"),
        ],
        capture_output=True,
        text=True,
        check=True,
        cwd=REPO,
    )
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
    assert (
        env["chain"].w3.keccak(text="verifyProof(uint256[2],uint256[2][2],uint256[2],uint256[3])")[:4].hex()
        == evm.VERIFY_PROOF_SELECTOR[2:]
    )


def test_proof_calldata_refuses_what_it_cannot_encode(env):
    proof, public = _read(env["folder"], 0)
    for bad_proof, bad_public in [
        (proof, public[:2]),  # 2 signals
        ({**proof, "pi_a": [proof["pi_a"][0], proof["pi_a"][1], "2"]}, public),  # projective z ≠ 1
        ({**proof, "pi_c": [str(1 << 256), proof["pi_c"][1], "1"]}, public),  # not a uint256
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

/// The same for 8 inputs (would let Z and any opening be anything the deployer likes).
contract FakePoseidon8 {
    function poseidon(uint256[8] calldata) external pure returns (uint256) { return 1; }
}
"""

K, M, B = 4, 4, 16
ZERO_PROOF = evm.ProofCalldata((0, 0), ((0, 0), (0, 0)), (0, 0), (0, 0, 0))
#: keccak256 of the runtime code of circomlibjs 0.1.7 poseidonContract.createCode(2).
POSEIDON2_CODEHASH = "0x354b26999e434f8256d168395315e1f51fc15bf49bf2e6bb58fc549bd597e7da"
#: keccak256 of the runtime code zksolv/js/poseidon_contract.js generates for 8 inputs.
POSEIDON8_CODEHASH = "0x11b158e039cece2ef1729798721a4ebf97674869d99e3fd29f4930b94c73555c"
OLD_PUBLISH_SIGNATURE = "publishEpoch(uint64,uint256,uint256,uint256,uint256,uint256,address,uint256[])"


def _shape_constant(k: int, m: int, b: int) -> int:
    return k + (m << 16) + (b << 32)  # PROTOCOL §5 Shape(K, M, B)


def _totals_length(k: int, m: int) -> int:
    return 2 * (k + m) + 4  # credit/debit, long/short, then the 4 liquidation figures


def _zero_totals_commitment(k: int, m: int, b: int) -> int:
    """Z = HashChain8(Shape, 0…0 (2(K+M)+4 totals), 0), recomputed here from zksolv.poseidon alone."""
    return hash_chain8([_shape_constant(k, m, b), *[0] * _totals_length(k, m), 0])


def witness_z(k: int, m: int, b: int) -> int:
    from zksolv import witness

    return witness.zero_totals_commitment(k, m, b)


def _acc(params_hash: int, totals: list[int], blinding: int) -> int:
    """Format 3: acc = Poseidon2(params_hash, HashChain8(Shape, totals…, blinding))."""
    return poseidon([params_hash, hash_chain8([_shape_constant(K, M, B), *totals, blinding])])


def _running_totals(n: int) -> list[list[int]]:
    totals, out = [0] * _totals_length(K, M), []
    for i in range(n):
        totals = [t + 7 * (i + 1) + j for j, t in enumerate(totals)]
        out.append(totals)
    return out


def _honest_chain(params_hash: int, n: int) -> list[int]:
    """acc_0 … acc_n of a made-up epoch (blinded running totals, blinding 1000 + i), by the format-3 formula."""
    accs = [poseidon([params_hash, _zero_totals_commitment(K, M, B)])]
    for i, totals in enumerate(_running_totals(n)):
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
            return chain._error_name(contract_artefact["abi"], ast.literal_eval(message[len(prefix) :]))
        return message


@pytest.fixture(scope="module")
def doubles(tmp_path_factory):
    """One chain: a real verifier, the stub, the Poseidon-2 and Poseidon-8 contracts, and two registries
    of shape (4, 4, 16): one pinned to the real verifier, one pinned to the stub."""
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
    poseidon8_contract, poseidon8_gas = evm.deploy_poseidon8(chain)
    z = _zero_totals_commitment(K, M, B)
    shape = evm.RegistryShape(K, M, B, z)
    addresses = (poseidon_contract.address, poseidon8_contract.address)
    pinned_real, registry_gas = evm.deploy_registry(chain, compiled, real.address, *addresses, shape)
    pinned_stub, _ = evm.deploy_registry(chain, compiled, stub.address, *addresses, shape)
    return {
        "chain": chain,
        "compiled": compiled,
        "real": real,
        "stub": stub,
        "poseidon": poseidon_contract,
        "poseidon8": poseidon8_contract,
        "shape": shape,
        "pinned_real": pinned_real,
        "pinned_stub": pinned_stub,
        "gas": {"Poseidon2": poseidon_gas, "Poseidon8": poseidon8_gas, "SolvencyRegistry": registry_gas},
    }


def _deploy_shape(doubles, k: int, m: int, b: int):
    addresses = (doubles["real"].address, doubles["poseidon"].address, doubles["poseidon8"].address)
    return evm.deploy_registry(doubles["chain"], doubles["compiled"], *addresses, evm.RegistryShape.of(k, m, b))


def test_zero_totals_commitment_is_computed_on_chain(doubles):
    """Z is no constructor argument: the registry computes HashChain8(Shape, 2(K+M)+4 zeros, 0) from
    (K, M, B) with the Poseidon-8 contract. For several shapes (1 to 4 Poseidon-8 calls) it equals
    zksolv.witness.zero_totals_commitment and the recomputation here; Shape and T are the immutables."""
    from zksolv import witness

    chain = doubles["chain"]
    assert doubles["shape"].zero_totals_commitment == witness.zero_totals_commitment(K, M, B)
    assert evm.RegistryShape.of(K, M, B) == doubles["shape"]
    assert _acc(5, [0] * _totals_length(K, M), 0) == poseidon([5, doubles["shape"].zero_totals_commitment])
    t = _totals_length(K, M)
    assert _acc(5, [1] * t, 9) == witness.accumulator(5, _shape_constant(K, M, B), [1] * t, 9)
    registries = {(K, M, B): doubles["pinned_real"]}
    for shape in [(1, 0, 1), (2, 2, 4), (1, 1, 2), (4, 4, 64), (7, 5, 1 << 20)]:
        registries[shape], _ = _deploy_shape(doubles, *shape)
    for (k, m, b), registry in registries.items():
        fns = registry.functions
        z = chain.call(fns.zeroTotalsCommitment())
        assert z == witness.zero_totals_commitment(k, m, b) == _zero_totals_commitment(k, m, b), (k, m, b)
        assert (chain.call(fns.SHAPE()), chain.call(fns.TOTALS_LENGTH())) == (
            witness.circuit_shape(k, m, b),
            _totals_length(k, m),
        )
        assert (chain.call(fns.nAssets()), chain.call(fns.nMarkets()), chain.call(fns.batchSize())) == (k, m, b)
    assert len({chain.call(r.functions.zeroTotalsCommitment()) for r in registries.values()}) == len(registries)


def test_poseidon2_contract_matches_zksolv_and_circomlibjs(doubles):
    """(c) The on-chain Poseidon2 that derives acc_0 is circomlib's: the same outputs as
    zksolv.poseidon and circomlibjs, including inputs next to r, and the code hash the
    registry pins."""
    chain, contract = doubles["chain"], doubles["poseidon"]
    z = doubles["shape"].zero_totals_commitment
    vectors = [
        [0, 0],
        [1, 2],
        [FIELD_MODULUS - 1, FIELD_MODULUS - 1],
        [FIELD_MODULUS - 1, 0],
        [0, FIELD_MODULUS - 1],
        [FIELD_MODULUS - 2, 1],
        [1 << 253, 12345],
        [
            int(json.loads((REPO / "proofs" / "example" / "manifest.json").read_text())["params_hash"])
            if (REPO / "proofs" / "example" / "manifest.json").exists()
            else 42,
            z,
        ],
    ]
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
    assert [(f["name"], [i["type"] for i in f["inputs"]], [o["type"] for o in f["outputs"]]) for f in interface] == [
        (f["name"], [i["type"] for i in f["inputs"]], [o["type"] for o in f["outputs"]])
        for f in evm.poseidon2_artefact()["abi"]
    ]  # the ABI zksolv calls is the registry's IPoseidon2
    # A pure function of its calldata: no call, storage, log, environment or self-destruct opcode
    # (so its code hash is all there is to check, and it can never change or act elsewhere).
    allowed = {
        0x04,
        0x08,
        0x09,
        0x14,
        0x17,
        0x35,
        0x50,
        0x51,
        0x52,
        0x56,
        0x57,
        0x5B,
        0xF3,
        0xFE,
        *range(0x60, 0xA0),
    }  # DIV ADDMOD MULMOD EQ OR CALLDATALOAD POP MLOAD MSTORE JUMP(I/DEST)
    assert _opcodes(chain, contract.address) <= allowed  # RETURN INVALID PUSH DUP SWAP


def _opcodes(chain, address: str) -> set[int]:
    code, ops, i = bytes(chain.w3.eth.get_code(address)), set(), 0
    while i < len(code):
        ops.add(code[i])
        i += 1 + (code[i] - 0x5F if 0x60 <= code[i] <= 0x7F else 0)  # skip PUSHn data
    return ops


#: circomlibjs's Poseidon over a list of lists, and HashChain8 written out in JS (the chaining
#: too, independently of zksolv.poseidon.hash_chain8).
_CIRCOMLIBJS_HASHES = r"""
const { buildPoseidon } = require("circomlibjs");
(async () => {
    const p = await buildPoseidon();
    const job = JSON.parse(require("fs").readFileSync(0, "utf8"));
    const h = (xs) => p.F.toObject(p(xs.map(BigInt)));
    const chain8 = (xs) => {
        const v = xs.map(BigInt);
        const n = v.length <= 8 ? 8 : 8 + 7 * Math.ceil((v.length - 8) / 7);
        while (v.length < n) v.push(0n);
        let acc = h(v.slice(0, 8));
        for (let s = 8; s < n; s += 7) acc = h([acc, ...v.slice(s, s + 7)]);
        return acc;
    };
    const out = { poseidon: job.poseidon.map((xs) => h(xs).toString()),
                  chain8: job.chain8.map((xs) => chain8(xs).toString()) };
    process.stdout.write(JSON.stringify(out));
    process.exit(0);
})().catch((e) => { console.error(e); process.exit(1); });
"""


def _circomlibjs(poseidon_inputs: list, chain8_inputs: list) -> dict:
    job = {
        "poseidon": [[str(x) for x in v] for v in poseidon_inputs],
        "chain8": [[str(x) for x in v] for v in chain8_inputs],
    }
    proc = subprocess.run(
        ["node", "-e", _CIRCOMLIBJS_HASHES],
        input=json.dumps(job),
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    return {"poseidon": [int(x) for x in out["poseidon"]], "chain8": [int(x) for x in out["chain8"]]}


def test_poseidon8_contract_matches_zksolv_and_circomlibjs(doubles):
    """The Poseidon-8 contract (zksolv's generator: circomlibjs 0.1.7's createCode(8) cannot assemble it)
    computes circomlib's Poseidon with 8 inputs: the outputs of zksolv.poseidon and circomlibjs on edge
    and random inputs, inputs reduced mod r, under the EIP-170 size limit, pure arithmetic only, and the
    code hash the registry pins."""
    import random

    chain, contract = doubles["chain"], doubles["poseidon8"]
    rnd = random.Random(11)
    r = FIELD_MODULUS
    vectors = [
        [0] * 8,
        list(range(1, 9)),
        [r - 1] * 8,
        [r - 1, 0, r - 2, 1, 0, r - 1, 2, 0],
        [1 << 253] * 8,
        *[[rnd.randrange(r) for _ in range(8)] for _ in range(12)],
        *[[rnd.choice([0, 1, r - 1, rnd.randrange(r)]) for _ in range(8)] for _ in range(4)],
    ]
    onchain = [chain.call(contract.functions.poseidon(v)) for v in vectors]
    assert onchain == [poseidon(v) for v in vectors]
    assert onchain == _circomlibjs(vectors, [])["poseidon"]
    # Inputs ≥ r are reduced (r ≡ 0, 2^256 − 1 ≡ its residue): hence the registry's NotAFieldElement checks.
    top = (1 << 256) - 1
    assert chain.call(contract.functions.poseidon([r, 5, top, 0, 0, 0, 0, r + 1])) == poseidon(
        [0, 5, top % r, 0, 0, 0, 0, 1]
    )
    # The generator: n ≤ 6 is circomlibjs's own createCode; n = 8 is zksolv's, over circomlibjs's constants.
    artefact8 = evm.poseidon8_artefact()
    assert artefact8["circomlibjs"] == "0.1.7" and artefact8["n_inputs"] == 8
    assert artefact8["generator"].startswith("zksolv")
    assert evm.poseidon2_artefact()["generator"] == "circomlibjs poseidonContract.createCode"
    proc = subprocess.run(["node", str(evm.POSEIDON_SCRIPT), "9"], capture_output=True, text=True)
    assert proc.returncode != 0
    code = bytes(chain.w3.eth.get_code(contract.address))
    assert len(code) <= 24_576
    assert chain.codehash(contract.address) == POSEIDON8_CODEHASH
    assert "0x" + bytes(chain.call(doubles["pinned_real"].functions.POSEIDON8_CODEHASH())).hex() == POSEIDON8_CODEHASH
    interface = evm.artefact(doubles["compiled"], evm.POSEIDON8_INTERFACE)["abi"]
    assert [(f["name"], [i["type"] for i in f["inputs"]]) for f in interface] == [("poseidon", ["uint256[8]"])]
    assert [i["type"] for i in artefact8["abi"][0]["inputs"]] == ["uint256[8]"]
    # Both circomlibjs selectors, as createCode(n) has them: poseidon(uint256[8]) and poseidon(bytes32[8]).
    for signature in ("poseidon(uint256[8])", "poseidon(bytes32[8])"):
        assert bytes(chain.w3.keccak(text=signature)[:4]) in code
    # Pure arithmetic (ADD and MOD besides Poseidon-2's opcodes: lazy reduction of the mix sums).
    allowed = {
        0x01,
        0x04,
        0x06,
        0x08,
        0x09,
        0x14,
        0x17,
        0x35,
        0x50,
        0x51,
        0x52,
        0x56,
        0x57,
        0x5B,
        0xF3,
        0xFE,
        *range(0x60, 0xA0),
    }
    assert _opcodes(chain, contract.address) <= allowed


def test_hash_chain8_on_chain_matches_zksolv_and_circomlibjs(doubles):
    """The registry's HashChain8 (what Z and every opening use): zksolv.poseidon.hash_chain8 and a JS
    HashChain8 over circomlibjs's Poseidon agree with it on every padding boundary (1, 7, 8, 9, 14, 15,
    16, 22, 23 values) and on the statement's own vectors (Shape, totals…, blinding)."""
    import random

    chain, fns = doubles["chain"], doubles["pinned_real"].functions
    rnd = random.Random(8)
    vectors = [[rnd.randrange(FIELD_MODULUS) for _ in range(n)] for n in (1, 7, 8, 9, 14, 15, 16, 22, 23)]
    vectors += [
        [_shape_constant(K, M, B), *[0] * _totals_length(K, M), 0],
        [_shape_constant(K, M, B), *_running_totals(1)[0], 1000],
        [FIELD_MODULUS - 1] * 15,
    ]
    onchain = [chain.call(fns.hashChain8(v)) for v in vectors]
    assert onchain == [hash_chain8(v) for v in vectors]
    assert onchain == _circomlibjs([], vectors)["chain8"]
    assert onchain[-3] == chain.call(fns.zeroTotalsCommitment())
    # Padding is by the fixed length: (x) and (x, 0) hash alike, which is why openTotals fixes T.
    assert chain.call(fns.hashChain8([5])) == chain.call(fns.hashChain8([5, 0]))
    assert chain.revert_error(fns.hashChain8([])) == "EmptyHashChain"
    assert chain.revert_error(fns.hashChain8([1, FIELD_MODULUS])) == "NotAFieldElement"


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
    data = selector + encode(
        ["uint64", "uint256", "uint256", "uint256", "uint256", "uint256", "address", "uint256[]"],
        [epoch + 1, 99, params_hash, accs[0], accs[-1], 2, stub.address, roots],
    )
    tx = chain.w3.eth.send_transaction({"from": chain.owner, "to": registry.address, "data": data, "gas": evm.CALL_GAS})
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
    wrong_z = dataclasses.replace(doubles["shape"], zero_totals_commitment=_zero_totals_commitment(K, M, 2 * B))
    for other_shape in [wrong_z, evm.RegistryShape.of(K, M, 2 * B), evm.RegistryShape.of(K + 1, M, B)]:
        report = evm.audit_registry(chain, doubles["pinned_real"], audited, other_shape)
        assert report["ok"] is False
        assert "Z (computed on-chain) is the shape's zero-totals commitment" in [
            c["name"] for c in report["checks"] if not c["ok"]
        ]
    assert {c["name"] for c in good["checks"]} >= {
        "Poseidon-8 code is zksolv's generated one",
        "registry pins the generated Poseidon-8 code",
    }


def test_constructor_pins_only_what_it_can_check(doubles):
    chain, compiled = doubles["chain"], doubles["compiled"]
    registry = evm.artefact(compiled, evm.REGISTRY_CONTRACT)
    real, p2, p8 = doubles["real"].address, doubles["poseidon"].address, doubles["poseidon8"].address
    fake, _ = chain.deploy(evm.artefact(compiled, "FakePoseidon2"))
    fake8, _ = chain.deploy(evm.artefact(compiled, "FakePoseidon8"))
    assert _error_of(chain, registry, real, p2, p8, K, M, B, 0, 0) is None
    assert _error_of(chain, registry, chain.accounts[3], p2, p8, K, M, B, 0, 0) == "VerifierHasNoCode"
    assert _error_of(chain, registry, real, fake.address, p8, K, M, B, 0, 0) == "WrongPoseidonCode"
    assert _error_of(chain, registry, real, chain.accounts[3], p8, K, M, B, 0, 0) == "WrongPoseidonCode"
    assert _error_of(chain, registry, real, p8, p2, K, M, B, 0, 0) == "WrongPoseidonCode"  # swapped
    assert _error_of(chain, registry, real, p2, fake8.address, K, M, B, 0, 0) == "WrongPoseidon8Code"
    assert _error_of(chain, registry, real, p2, chain.accounts[3], K, M, B, 0, 0) == "WrongPoseidon8Code"
    assert _error_of(chain, registry, real, p2, p2, K, M, B, 0, 0) == "WrongPoseidon8Code"
    assert _error_of(chain, registry, real, p2, p8, K, M, 0, 0, 0) == "ZeroBatchSize"
    # The ranges of zksolv.statement.circuit_shape: Shape(K, M, B, TIERS) stays an injective encoding,
    # with no bracket count for a market the shape does not have.
    for k, m, b, tiers in [
        (0, M, B, ()),
        (1 << 16, M, B, ()),
        (K, 1 << 16, B, ()),
        (K, M, 1 << 31, ()),
        (K, M, B, (1,) * M + (2,)),
    ]:
        packed = sum((t - 1) << (5 * i) for i, t in enumerate(tiers))
        assert _error_of(chain, registry, real, p2, p8, k, m, b, packed, 0) == "ShapeOutOfRange", (k, m, b, tiers)
        with pytest.raises(ValueError):
            evm.RegistryShape.of(k, m, b, tiers)
    assert _error_of(chain, registry, real, p2, p8, 1, 0, (1 << 31) - 1, 0, 0) is None  # B just in range
    # S < 2^12 keeps Shape(…, S) = … + 2^240 S below the field's bit 252 (the demo's 18 deploy fine).
    assert _error_of(chain, registry, real, p2, p8, K, M, B, 0, 18) is None
    assert _error_of(chain, registry, real, p2, p8, K, M, B, 0, 1 << 12) == "TooManyScenarios"
    # 31 brackets on the last market: the largest packed count in range.
    assert _error_of(chain, registry, real, p2, p8, K, M, B, 31 << (5 * (M - 1)), 0) is None
    with pytest.raises(evm.EvmError):
        evm.deploy_registry(chain, compiled, real, fake.address, p8, doubles["shape"])
    with pytest.raises(evm.EvmError):
        evm.deploy_registry(chain, compiled, real, p2, fake8.address, doubles["shape"])
    fns = doubles["pinned_real"].functions
    assert (
        chain.call(fns.batchSize()),
        chain.call(fns.zeroTotalsCommitment()),
        chain.call(fns.poseidon2()),
        chain.call(fns.poseidon8()),
        chain.call(fns.owner()),
    ) == (B, doubles["shape"].zero_totals_commitment, p2, p8, chain.owner)
    # No constructor argument is a per-shape constant taken on trust: only addresses and (K, M, B, TIERS, S).
    inputs = next(i for i in registry["abi"] if i["type"] == "constructor")["inputs"]
    assert [(i["name"], i["type"]) for i in inputs] == [
        ("verifier_", "address"),
        ("poseidon2_", "address"),
        ("poseidon8_", "address"),
        ("nAssets_", "uint256"),
        ("nMarkets_", "uint256"),
        ("batchSize_", "uint256"),
        ("marketTiers_", "uint256"),
        ("nScenarios_", "uint256"),
    ]


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
    assert (
        chain.revert_error(fns.publishEpoch(1_920_000_000, 1, params_hash + FIELD_MODULUS, 1, 2, []))
        == "NotAFieldElement"
    )
    assert (
        chain.revert_error(fns.publishEpoch(1_920_000_000, FIELD_MODULUS, params_hash, 1, 2, [])) == "NotAFieldElement"
    )
    assert (
        chain.revert_error(fns.publishEpoch(1_920_000_000, 1, params_hash, FIELD_MODULUS, 2, [])) == "NotAFieldElement"
    )
    assert (
        chain.revert_error(fns.publishEpoch(1_920_000_000, 1, params_hash, 1, 2, [1, FIELD_MODULUS]))
        == "NotAFieldElement"
    )


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
    assert chain.revert_error(evm.submit_fn(registry, epoch, 3, _link([*accs, 0], [*roots, 0], 3))) == "IndexOutOfRange"
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


def test_open_totals_completes_the_one_flag(doubles):
    """isFullyProvenAndOpened = fully proven AND opened, in either order (stub-pinned registry: only the
    registry's own checks act). Before the opening, totals() and liquidations() revert."""
    chain, registry = doubles["chain"], doubles["pinned_stub"]
    fns = registry.functions
    epoch, params_hash, roots = 1_940_000_000, 5151, [51, 52]
    accs = _honest_chain(params_hash, 2)
    final, blinding = _running_totals(2)[-1], 1001
    assert evm.publish(chain, registry, evm.Publication(epoch, 99, params_hash, accs[-1], tuple(roots))).status == 1
    assert chain.transact(evm.submit_fn(registry, epoch, 0, _link(accs, roots, 0))).status == 1
    assert (chain.call(fns.isOpened(epoch)), chain.call(fns.isFullyProvenAndOpened(epoch))) == (False, False)
    assert chain.revert_error(fns.totals(epoch)) == "TotalsNotOpened"
    assert chain.revert_error(fns.liquidations(epoch)) == "TotalsNotOpened"
    # An intermediate accumulator's opening is not the final one.
    assert chain.revert_error(fns.openTotals(epoch, _running_totals(2)[0], 1000)) == "WrongOpening"
    receipt = chain.transact(fns.openTotals(epoch, final, blinding), sender=chain.accounts[4])
    assert receipt.status == 1
    (event,) = _events(registry, "TotalsOpened", receipt)
    assert (
        event.args.epoch,
        event.args.accountsBelowMaintenance,
        event.args.shortfall,
        event.args.bankruptAccounts,
        event.args.badDebt,
    ) == (epoch, *final[-4:])
    assert chain.call(fns.totals(epoch)) == final
    assert chain.call(fns.liquidations(epoch)) == final[-4:]
    assert (
        chain.call(fns.isOpened(epoch)),
        chain.call(fns.isFullyProven(epoch)),
        chain.call(fns.isFullyProvenAndOpened(epoch)),
    ) == (True, False, False)  # batch 1 missing
    assert chain.transact(evm.submit_fn(registry, epoch, 1, _link(accs, roots, 1))).status == 1
    assert chain.call(fns.isFullyProvenAndOpened(epoch)) is True
    assert chain.revert_error(fns.openTotals(epoch, final, blinding)) == "TotalsAlreadyOpened"
    # Opened but the chain broken: never the one flag.
    epoch += 1
    assert evm.publish(chain, registry, evm.Publication(epoch, 99, params_hash, accs[-1], tuple(roots))).status == 1
    assert chain.transact(fns.openTotals(epoch, final, blinding)).status == 1
    forged = [accs[0] + 1, *accs[1:]]
    for index in range(2):
        assert chain.transact(evm.submit_fn(registry, epoch, index, _link(forged, roots, index))).status == 1
    assert (chain.call(fns.isOpened(epoch)), chain.call(fns.isFullyProvenAndOpened(epoch))) == (True, False)


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
    return vkey, module.malformed_cases(
        copy.deepcopy(vkey), copy.deepcopy(proof), copy.deepcopy(public), other=_read(env["folder"], 1)
    )


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


# ---------------------------------------------------------------------------
# The final opening on-chain (issue 11): a bundle that counts accounts below maintenance


@pytest.fixture(scope="module")
def liquidation(small_keys, tmp_path_factory):
    """tests/test_end_to_end.py's liquidation rows (frank below maintenance, mallory bankrupt), proved
    with allow_liquidations, on a chain of its own (verifier, Poseidon contracts, registry)."""
    from zksolv.prove import prove
    from zksolv.secret import generate_secret

    from .conftest import HEADER, PARAMS
    from .helpers import write_csv
    from .test_end_to_end import LIQUIDATION_ROWS

    folder = tmp_path_factory.mktemp("evm-liquidations")
    params = folder / "params.json"
    params.write_text(json.dumps({**PARAMS, "insurance_fund": "75"}))
    accounts = write_csv(folder / "accounts.csv", HEADER, LIQUIDATION_ROWS)
    prove(
        params,
        accounts,
        generate_secret(folder / "venue.secret"),
        small_keys.dir,
        folder / "bundle",
        allow_liquidations=True,
    )
    return _registry_chain(folder / "bundle")


def test_open_totals_exposes_the_liquidation_figures(liquidation):
    """openTotals with the manifest's final_accumulator: accepted from anyone, and liquidations() are the
    manifest's figures — which are those of an independent computation (2 below maintenance, 1
    bankrupt, 50 USD bad debt). Every other opening reverts with its named error: a total changed by
    one, another blinding, a wrong length, a value ≥ r (the alias v + r, which Poseidon would accept),
    an unpublished epoch, a second opening. No pairing: the opening needs no proof."""
    from fractions import Fraction

    from zksolv.bundle import liquidations_document
    from zksolv.margin import Liquidations
    from zksolv.params import load_params

    from .test_end_to_end import _independent_figures

    chain, registry, pub, manifest = (liquidation[k] for k in ("chain", "registry", "pub", "manifest"))
    fns = registry.functions
    op = evm.opening(manifest)
    t = _totals_length(2, 2)
    assert len(op.totals) == t == chain.call(fns.TOTALS_LENGTH())
    assert chain.revert_error(evm.open_fn(registry, op)) == "EpochNotPublished"
    assert evm.publish(chain, registry, pub).status == 1
    assert chain.revert_error(fns.liquidations(pub.epoch)) == "TotalsNotOpened"

    totals = list(op.totals)
    wrong = {
        "WrongOpening": [(_bumped(totals, i), op.blinding) for i in (0, t - 4, t - 3, t - 2, t - 1)]
        + [(totals, op.blinding + 1), (totals, 0)],
        "WrongTotalsLength": [(totals[:-1], op.blinding), ([*totals, 0], op.blinding), ([], op.blinding)],
        "NotAFieldElement": [
            ([totals[0] + FIELD_MODULUS, *totals[1:]], op.blinding),
            (totals, op.blinding + FIELD_MODULUS),
        ],
    }
    for error, cases in wrong.items():
        for values, blinding in cases:
            assert chain.revert_error(fns.openTotals(pub.epoch, values, blinding)) == error, (error, values, blinding)
    assert chain.revert_error(fns.openTotals(pub.epoch + 1, totals, op.blinding)) == "EpochNotPublished"
    assert chain.call(fns.isOpened(pub.epoch)) is False

    receipt = chain.transact(
        evm.open_fn(registry, op), gas=evm.open_gas_limit(liquidation["shape"]), sender=chain.accounts[5]
    )
    assert receipt.status == 1
    (event,) = _events(registry, "TotalsOpened", receipt)
    figures = tuple(chain.call(fns.liquidations(pub.epoch)))
    assert figures == op.liquidations == tuple(int(v) for v in manifest["final_accumulator"]["totals"][-4:])
    assert (
        event.args.accountsBelowMaintenance,
        event.args.shortfall,
        event.args.bankruptAccounts,
        event.args.badDebt,
    ) == figures
    assert chain.call(fns.totals(pub.epoch)) == totals
    # The units: shortfall in 10^-(S+4) quote, bad debt in 10^-S quote (S from params.json, off-chain).
    params = load_params(liquidation["folder"] / "params.json")
    document = liquidations_document(params, Liquidations(*figures))
    for key in ("accounts_below_maintenance", "shortfall", "bankrupt_accounts", "bad_debt"):
        assert document[key] == manifest["liquidations"][key], key
    expected = _independent_figures()
    below, shortfall, bankrupt, bad_debt = figures
    assert (below, bankrupt) == (expected["accounts_below_maintenance"], expected["bankrupt_accounts"]) == (2, 1)
    assert Fraction(shortfall, 10 ** (params.value_scale + 4)) == expected["shortfall"]
    assert Fraction(bad_debt, 10**params.value_scale) == expected["bad_debt"] == 50
    # Opened, not proven: the one flag waits for the proofs (evm_report below submits them).
    assert (chain.call(fns.isOpened(pub.epoch)), chain.call(fns.isFullyProvenAndOpened(pub.epoch))) == (True, False)
    assert chain.revert_error(evm.open_fn(registry, op)) == "TotalsAlreadyOpened"
    liquidation["open_gas"] = receipt.gasUsed


def _bumped(values: list[int], index: int) -> list[int]:
    out = list(values)
    out[index] = (out[index] + 1) % FIELD_MODULUS
    return out


def test_report_on_a_liquidation_bundle(liquidation, tmp_path):
    """evm_report on the liquidation bundle: fully proven and opened, the figures read back from the
    registry equal the manifest's. A manifest whose figures or opening the chain does not confirm fails
    loudly, before any pairing. 4 pairings."""
    folder = liquidation["folder"]
    report = evm.evm_report(folder)
    assert report["fully_proven"] is True and report["fully_proven_and_opened"] is True
    assert [b["accepted"] for b in report["batches"]] == [True, True]
    manifest = liquidation["manifest"]
    figures = report["liquidations"]
    assert figures["quote"] == {
        k: manifest["liquidations"][k]
        for k in ("accounts_below_maintenance", "shortfall", "bankrupt_accounts", "bad_debt")
    }
    assert (figures["accounts_below_maintenance"], figures["bankrupt_accounts"]) == (2, 1)
    assert [figures["shortfall"], figures["bad_debt"]] == manifest["final_accumulator"]["totals"][-3::2]
    assert report["open_gas"] > 0 and report["registry"]["audit_ok"] is True
    assert report["registry"]["poseidon8_codehash"] == POSEIDON8_CODEHASH

    for edit, message in [
        (lambda m: m["liquidations"].update(bankrupt_accounts=2), "differ"),
        (lambda m: m["liquidations"].update(shortfall="0"), "differ"),
        (lambda m: m["final_accumulator"].update(blinding="1"), "WrongOpening"),
        (
            lambda m: m["final_accumulator"]["totals"].__setitem__(
                -1, str(int(m["final_accumulator"]["totals"][-1]) + 1)
            ),
            "WrongOpening",
        ),
    ]:
        copy_dir = tmp_path / f"bundle{message}{len(list(tmp_path.iterdir()))}"
        shutil.copytree(folder, copy_dir)
        doc = json.loads((copy_dir / "manifest.json").read_text())
        edit(doc)
        (copy_dir / "manifest.json").write_text(json.dumps(doc))
        with pytest.raises(evm.EvmError, match=message):
            evm.evm_report(copy_dir)
