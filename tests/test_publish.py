"""`zksolv publish` against a real JSON-RPC node: Hardhat's, started on 127.0.0.1 by the `node`
fixture (contracts/hardhat.config.js), with the committed example bundle (proofs/example, 2 batches).

What is checked against the chain, read back with web3 independently of zksolv.publish: the
registry's isFullyProven / isFullyProvenAndOpened, batchRecord, BatchAccepted logs (one per batch:
an interrupted publish resumes without re-sending), every reported transaction hash's receipt and
gasUsed, the acc_0 the registry derived (= zksolv.statement.zero_accumulator, computed in Python),
and the opened liquidation figures (= the manifest's final totals). The export's registry
arguments are sent as raw transaction data and must be accepted.
"""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

pytest.importorskip("web3")

from zksolv import api, evm  # noqa: E402
from zksolv.bundle import batch_dir  # noqa: E402
from zksolv.cli import main  # noqa: E402
from zksolv.errors import ClaimError, InputError  # noqa: E402
from zksolv.field import FIELD_MODULUS  # noqa: E402
from zksolv.params import load_params  # noqa: E402
from zksolv.publish import ChainError, PublishError, RevertedError, RpcChain, Sender, local_node  # noqa: E402
from zksolv.statement import zero_accumulator  # noqa: E402

from .helpers import NODE_MODULES, REPO  # noqa: E402
from .test_json_contract import validate  # noqa: E402

pytestmark = [
    pytest.mark.node,
    pytest.mark.skipif(not (NODE_MODULES / "hardhat").is_dir(), reason="npm hardhat not installed"),
]

EXAMPLE = REPO / "proofs" / "example"
MANIFEST = json.loads((EXAMPLE / "manifest.json").read_text())
N_BATCHES = MANIFEST["n_batches"]


@pytest.fixture(scope="module")
def node():
    with local_node() as running:
        yield running


@pytest.fixture(scope="module")
def w3(node):
    from web3 import Web3

    return Web3(Web3.HTTPProvider(node.url))


@pytest.fixture(scope="module")
def key_file(node, tmp_path_factory) -> Path:
    """Account #0 of the node's development accounts, in an owner-only file."""
    path = tmp_path_factory.mktemp("keys") / "venue.key"
    path.write_text(node.keys[0] + "\n")
    path.chmod(0o600)
    return path


@pytest.fixture(scope="module")
def registry_abi() -> list:
    return evm.artefact(evm.compile_bundle(EXAMPLE), evm.REGISTRY_CONTRACT)["abi"]


@pytest.fixture(scope="module")
def interrupted(node, key_file):
    """The first run, interrupted after one batch (max_batches=1): deploys, publishes, opens, submits batch 0."""
    return api.publish(EXAMPLE, node.url, key_file=key_file, max_batches=1)


def _registry(w3, abi, address):
    return w3.eth.contract(address=address, abi=abi)


def _accepted_indices(w3, registry) -> list[int]:
    """Every BatchAccepted event the registry ever emitted, by batch index (from the chain's logs)."""
    logs = registry.events.BatchAccepted().get_logs(from_block=0)
    return sorted(int(log["args"]["index"]) for log in logs)


def _check_receipts(w3, transactions: list[dict]) -> None:
    """Each reported hash is a mined, successful transaction with the reported gasUsed."""
    for tx in transactions:
        receipt = w3.eth.get_transaction_receipt(tx["tx_hash"])
        assert receipt.status == 1 and receipt.gasUsed == tx["gas_used"] and receipt.blockNumber == tx["block"], tx


def test_publish_interrupted_then_resumed_is_fully_proven(node, w3, key_file, registry_abi, interrupted):
    first = interrupted.document()
    assert [b["status"] for b in first["batches"]] == ["submitted"] + ["pending"] * (N_BATCHES - 1)
    assert first["fully_proven"] is False and first["complete"] is False and first["audit_ok"] is True
    assert {c["deployed"] for c in first["contracts"].values()} == {True}
    whats = [t["what"] for t in first["transactions"]]
    assert whats == [
        "deploy Groth16Verifier",
        "deploy Poseidon2",
        "deploy Poseidon8",
        "deploy SolvencyRegistry",
        "publishEpoch",
        "openTotals",
        "submitBatch 0",
    ]
    _check_receipts(w3, first["transactions"])
    registry = _registry(w3, registry_abi, first["registry"])
    epoch = first["epoch_seconds"]
    assert registry.functions.isFullyProven(epoch).call() is False
    assert [registry.functions.batchRecord(epoch, i).call()[0] for i in range(N_BATCHES)] == [True] + [False] * (
        N_BATCHES - 1
    )
    # The registry derived acc_0 itself; zksolv.statement computes it from params.json and the shape.
    params = load_params(EXAMPLE / "params.json")
    acc_0 = zero_accumulator(params, MANIFEST["batch_size"])
    assert registry.functions.epochInfo(epoch).call()[2] == acc_0 == int(first["acc_0"])
    public0 = json.loads((EXAMPLE / batch_dir(0) / "public.json").read_text())
    assert int(public0[1]) == acc_0

    # The resumed run, through the CLI: nothing re-sent, the remaining batch submitted.
    result = CliRunner().invoke(
        main,
        [
            "publish",
            str(EXAMPLE),
            "--rpc",
            node.url,
            "--registry",
            first["registry"],
            "--key-file",
            str(key_file),
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    second = json.loads(result.stdout)
    validate("publish", second)
    assert [b["status"] for b in second["batches"]] == ["already proven"] + ["submitted"] * (N_BATCHES - 1)
    assert [t["what"] for t in second["transactions"]] == [f"submitBatch {i}" for i in range(1, N_BATCHES)]
    assert {c["deployed"] for c in second["contracts"].values()} == {False}
    _check_receipts(w3, second["transactions"])
    assert second["fully_proven"] is True and second["complete"] is True
    assert registry.functions.isFullyProven(epoch).call() is True
    assert registry.functions.isFullyProvenAndOpened(epoch).call() is True
    assert _accepted_indices(w3, registry) == list(range(N_BATCHES))  # each batch accepted exactly once
    # The opened figures are the manifest's proved ones (the 4 totals after the 2(K + M) slot totals).
    slots = MANIFEST["circuit"]["n_assets"] + MANIFEST["circuit"]["n_markets"]
    figures = [int(v) for v in MANIFEST["final_accumulator"]["totals"][2 * slots : 2 * slots + 4]]
    assert list(registry.functions.liquidations(epoch).call()) == figures
    assert second["liquidations"]["bad_debt"] == str(figures[3])

    # A third run has nothing to do and sends nothing.
    nonce = w3.eth.get_transaction_count(second["sender"])
    third = api.publish(EXAMPLE, node.url, first["registry"], key_file, verify=False).document()
    assert third["transactions"] == [] and third["skipped"] == N_BATCHES and third["complete"] is True
    assert w3.eth.get_transaction_count(second["sender"]) == nonce


def _deploy_registry(node, interrupted, shape, verifier: str | None = None) -> str:
    """Another registry on the node, reusing the first run's verifier and Poseidon contracts."""
    chain = RpcChain(node.url, Sender(_address(node, 0), None))
    contracts = interrupted.contracts
    registry, _ = evm.deploy_registry(
        chain,
        evm.compile_bundle(EXAMPLE),
        verifier or contracts["Groth16Verifier"]["address"],
        contracts["Poseidon2"]["address"],
        contracts["Poseidon8"]["address"],
        shape,
    )
    return registry.address


def _address(node, index: int) -> str:
    from eth_account import Account

    return Account.from_key(node.keys[index]).address


@pytest.mark.parametrize("wrong", ["flat shape", "other verifier"])
def test_a_registry_not_pinned_to_the_bundle_is_refused_before_sending(node, w3, key_file, interrupted, wrong):
    right = evm.registry_shape(MANIFEST)
    if wrong == "flat shape":  # the example's BTC-PERP has 3 maintenance brackets
        address = _deploy_registry(node, interrupted, evm.RegistryShape.of(right.n_assets, right.n_markets, 16))
        failing = {"maintenance brackets per market are the shape's", "Shape(K, M, B, TIERS, S) is the shape's"}
    else:  # a registry whose "verifier" is the Poseidon-2 contract: code, but not the audited key's
        address = _deploy_registry(node, interrupted, right, verifier=interrupted.contracts["Poseidon2"]["address"])
        failing = {"verifier code is the audited key's"}
    sender = interrupted.sender
    nonce = w3.eth.get_transaction_count(sender)
    with pytest.raises(PublishError) as caught:
        api.publish(EXAMPLE, node.url, address, key_file, verify=False)
    message = str(caught.value)
    assert "is not pinned to this bundle's verifier and shape" in message and "nothing was sent" in message
    for name in failing:
        assert name in message
    assert w3.eth.get_transaction_count(sender) == nonce


def test_an_address_without_code_is_refused(node, key_file):
    with pytest.raises(PublishError, match="no contract at .* on chain 31337"):
        api.publish(EXAMPLE, node.url, _address(node, 5), key_file, verify=False)


def test_export_calldata_registry_arguments_are_accepted(node, w3, registry_abi, interrupted):
    """The exported publishEpoch, openTotals and submitBatch data, sent as they are to a fresh registry."""
    exported = api.export_calldata(EXAMPLE)
    address = _deploy_registry(node, interrupted, evm.registry_shape(MANIFEST))
    registry = _registry(w3, registry_abi, address)
    fns = registry.functions

    def ints(value):
        return int(value) if isinstance(value, str) else [ints(v) for v in value]

    calls = [("publishEpoch", exported["publish_epoch"]), ("openTotals", exported["open_totals"])] + [
        ("submitBatch", b["submit_batch"]) for b in exported["batches"]
    ]
    for name, call in calls:
        # The data is the ABI encoding web3 makes of the exported arguments, under the compiled ABI's selector.
        assert getattr(fns, name)(*ints(call["args"]))._encode_transaction_data() == call["data"], name
        assert call["function"].startswith(name + "(")
    owner = _address(node, 0)  # the registry's owner (a development account the node holds unlocked)
    for name, call in calls:
        tx_hash = w3.eth.send_transaction({"from": owner, "to": address, "data": call["data"], "gas": 5_000_000})
        assert w3.eth.wait_for_transaction_receipt(tx_hash).status == 1, name
    epoch = exported["epoch"]
    assert fns.isFullyProvenAndOpened(epoch).call() is True
    # The exported batch arguments are the bundle's own files.
    for batch in exported["batches"]:
        public = json.loads((EXAMPLE / batch_dir(batch["index"]) / "public.json").read_text())
        assert batch["submit_batch"]["args"][:5] == [str(epoch), str(batch["index"]), *public]


def test_node_errors_are_clear(node, key_file, tmp_path):
    runner = CliRunner()
    base = ["publish", str(EXAMPLE), "--key-file", str(key_file), "--no-verify"]
    # Nothing listens on this port: exit 4, the URL named, no traceback.
    from zksolv.publish import free_port

    closed = f"http://127.0.0.1:{free_port()}"
    result = runner.invoke(main, [*base, "--rpc", closed])
    assert result.exit_code == 4 and f"the JSON-RPC node at {closed} cannot be reached" in result.output
    assert "Traceback" not in result.output
    # Another chain than asked for.
    result = runner.invoke(main, [*base, "--rpc", node.url, "--chain-id", "1", "--json"])
    assert result.exit_code == 2 and "is chain 31337, not chain 1" in result.output
    assert json.loads(result.stdout)["error"]["exit_code"] == 2
    validate("publish", json.loads(result.stdout))
    # No sender, or two.
    result = runner.invoke(main, ["publish", str(EXAMPLE), "--rpc", node.url])
    assert result.exit_code == 2 and "--key-file FILE or --from ADDRESS" in result.output


def test_key_file_is_owner_only_and_never_shown(node, tmp_path):
    secret = "0x" + "ab" * 32
    path = tmp_path / "shared.key"
    path.write_text(secret)
    path.chmod(0o644)
    result = CliRunner().invoke(main, ["publish", str(EXAMPLE), "--rpc", node.url, "--key-file", str(path)])
    assert (
        result.exit_code == 2 and "accessible by other users" in result.output and f"chmod 600 {path}" in result.output
    )
    path.write_text("not a key " + secret[:20])
    path.chmod(0o600)
    result = CliRunner().invoke(main, ["publish", str(EXAMPLE), "--rpc", node.url, "--key-file", str(path)])
    assert result.exit_code == 2 and "not a private key" in result.output
    assert secret[:20] not in result.output and "ab" * 8 not in result.output


def test_insufficient_funds_sends_nothing(node, w3, tmp_path):
    from eth_account import Account

    account = Account.create()
    path = tmp_path / "empty.key"
    path.write_text(account.key.hex())
    path.chmod(0o600)
    with pytest.raises(PublishError, match=f"{account.address} holds 0 wei on chain 31337"):
        api.publish(EXAMPLE, node.url, key_file=path, verify=False)
    assert w3.eth.get_transaction_count(account.address) == 0


def test_a_reverting_submission_is_decoded_and_not_sent(node, w3, key_file, registry_abi, tmp_path):
    """A bundle whose batch 1 proof was altered: verify refuses it (exit 1); without verification the
    registry's eth_call simulation reverts with InvalidProof, decoded, before anything is sent."""
    folder = tmp_path / "bundle"
    shutil.copytree(EXAMPLE, folder)
    path = folder / batch_dir(1) / "proof.json"
    proof = json.loads(path.read_text())
    altered = copy.deepcopy(proof)
    altered["pi_a"] = proof["pi_c"]  # a point of the curve, but not this proof's
    path.write_text(json.dumps(altered))
    with pytest.raises(ClaimError, match="does not verify, so it is not published"):
        api.publish(folder, node.url, key_file=key_file)
    first = api.publish(folder, node.url, key_file=key_file, max_batches=0, verify=False)  # a fresh registry
    assert [b["status"] for b in first.batches] == ["pending"] * N_BATCHES
    # Batch 0 is the example's own: accepted. Batch 1 reverts in simulation.
    nonce = w3.eth.get_transaction_count(first.sender)
    with pytest.raises(RevertedError) as caught:
        api.publish(folder, node.url, first.registry, key_file, verify=False)
    assert caught.value.reason == f"InvalidProof(epoch={first.epoch_seconds}, index=1)"
    assert "submitBatch 1 reverts" in str(caught.value) and "nothing was sent" in str(caught.value)
    registry = _registry(w3, registry_abi, first.registry)
    assert [registry.functions.batchRecord(first.epoch_seconds, i).call()[0] for i in range(N_BATCHES)] == [
        True,
        False,
    ]
    assert w3.eth.get_transaction_count(first.sender) == nonce + 1  # batch 0 only


def test_unreachable_node_is_a_chain_error():
    from zksolv.publish import free_port, publish_bundle

    with pytest.raises(ChainError, match="cannot be reached"):
        publish_bundle(EXAMPLE, f"http://127.0.0.1:{free_port()}", Sender("0x" + "11" * 20, b"\x01" * 32), verify=False)


# ---------------------------------------------------------------------------
# acc_0 in the manifest


def test_acc_0_in_the_manifest_is_checked_by_verify(tmp_path):
    params = load_params(EXAMPLE / "params.json")
    acc_0 = zero_accumulator(params, MANIFEST["batch_size"])
    folder = tmp_path / "bundle"
    shutil.copytree(EXAMPLE, folder)
    for value, valid in [(str(acc_0), True), (str((acc_0 + 1) % FIELD_MODULUS), False)]:
        manifest = {**MANIFEST, "acc_0": value}  # not in the files list: the hashes still match
        (folder / "manifest.json").write_text(json.dumps(manifest))
        report = api.verify(folder, backend="python")
        assert report.valid is valid
        assert report.document()["acc_0"] == str(acc_0)  # recomputed, whatever the manifest says
        chain = next(c for c in report.checks if c.name == "accumulator chain")
        assert chain.ok is valid and ("acc_0 of the manifest" in chain.detail) is not valid
    (folder / "manifest.json").write_text(json.dumps({**MANIFEST, "acc_0": "01"}))
    with pytest.raises(InputError):  # a non-canonical spelling is not a manifest
        evm.export_calldata(folder)


def test_the_prover_writes_acc_0(bundle):
    """The conftest bundle (proved in this session): acc_0 is batch 0's acc_in and zero_accumulator."""
    manifest = json.loads((bundle["bundle"] / "manifest.json").read_text())
    public0 = json.loads((bundle["bundle"] / batch_dir(0) / "public.json").read_text())
    params = load_params(bundle["params"])
    assert manifest["acc_0"] == public0[1] == str(zero_accumulator(params, manifest["batch_size"]))
    assert evm.export_calldata(bundle["bundle"])["acc_0"] == manifest["acc_0"]


def test_registry_selectors_match_the_abi(registry_abi):
    from web3 import Web3

    names = {item["name"] for item in registry_abi if item.get("type") == "function"}
    for signature, selector in (evm.PUBLISH_EPOCH, evm.SUBMIT_BATCH, evm.OPEN_TOTALS):
        assert signature.split("(")[0] in names
        assert "0x" + Web3.keccak(text=signature)[:4].hex() == selector


def test_solc_is_pinned(tmp_path):
    """The compile used SOLC_SETTINGS (the script echoes what it passed to solc) and the pinned version."""
    assert evm.pinned_solc() == evm.SOLC_VERSION
    compiled = evm.compile_bundle(EXAMPLE)
    assert compiled["solc"].startswith(evm.SOLC_VERSION + "+") and compiled["settings"] == evm.SOLC_SETTINGS
