"""Publishing a bundle on a real chain over JSON-RPC (`zksolv publish`, issue 15).

zksolv.evm replays a publication on an in-process py-evm; this module sends the same transactions
to a node (a venue's own, an RPC provider, Hardhat's local node in the tests), reusing evm.py for
everything but the sending: compilation with the pinned solc, the contracts' calls and arguments,
explicit gas limits, the runtime code hashes and the registry audit. Order of a run:

1. the node: it answers ``eth_chainId`` (and is the ``chain_id`` asked for); the sender is a local
   key (signed here: the key never leaves the process and is never printed) or an account the node
   holds unlocked;
2. the bundle: ``zksolv verify`` first (the registry cannot check the batch roots against the root,
   nor the params hash against params.json), then its publication from the manifest;
3. the registry: a given one must have code, and must pass ``evm.audit_registry`` — its verifier's
   code hash is that of the bundle's Verifier.sol (hashed on an in-process chain: the audit sends
   nothing), the Poseidon codes, K, M, B, brackets, S, Shape, T, Z — before anything is sent;
   otherwise the verifier, the two Poseidon contracts and a registry are deployed, then audited;
4. the epoch: published unless it is (then it must be this bundle's: root, params hash, acc_n,
   batch count, every batch root, and the acc_0 the registry derived); missing batch roots are
   appended, the totals opened unless they are;
5. the batches: each batch the registry already records as proven is skipped (its recorded
   accumulators must be this bundle's), every other one submitted — at most ``max_batches`` in a
   run — so an interrupted run resumes where it stopped and never sends a batch twice.

Each transaction is simulated with ``eth_call`` first, so a revert is reported by its decoded
custom error (``WrongBatchRoot(index=…, expected=…, given=…)``) before gas is spent on it; the
balance is compared with gas limit × max fee first; every receipt is awaited, and its ``gasUsed``
and hash are reported. Gas limits are explicit (evm.py's: never ``eth_estimateGas``, see there).
"""

from __future__ import annotations

import json
import os
import re
import socket
import stat
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import evm
from .bundle import batch_dir, load_manifest
from .errors import ArgumentError, ClaimError, InputError, Problem, ToolchainError, ZksolvError
from .events import EventSink, ignore, step

#: Batch roots per publishEpoch / appendBatchRoots transaction: 256 roots ≈ 8M gas (evm.roots_gas_limit),
#: below EIP-7825's 2^24 per transaction and a mainnet block.
ROOTS_PER_TRANSACTION = 256
#: Seconds to wait for a receipt before giving up (the run resumes from the chain's state).
RECEIPT_TIMEOUT = 120.0
#: Seconds for one JSON-RPC request.
REQUEST_TIMEOUT = 30.0


class ChainError(ToolchainError):
    """The node cannot be reached, answers with an error, or a receipt never came (exit 4): nothing is
    wrong with the bundle; running again resumes."""


class PublishError(ZksolvError):
    """Publication refused before sending (exit 2): the chain, the registry, the epoch already on it or
    the sender's funds do not fit the bundle."""


class RevertedError(PublishError):
    """A transaction reverts (in its eth_call simulation, or mined): ``reason`` is the registry's
    decoded custom error, e.g. ``InvalidProof(epoch=…, index=1)``."""

    def __init__(self, what: str, reason: str, tx_hash: str | None = None, *, hint: str | None = None):
        self.what, self.reason, self.tx_hash = what, reason, tx_hash
        mined = f" (mined in {tx_hash})" if tx_hash else " (simulated with eth_call; nothing was sent)"
        super().__init__(f"{what} reverts: {reason}{mined}", hint=hint)


# ---------------------------------------------------------------------------
# The sender


@dataclass(frozen=True)
class Sender:
    """Who sends: ``key`` (32 bytes) to sign locally, or None for an account the node holds unlocked.
    The key is left out of the repr, so no log or traceback shows it."""

    address: str
    key: bytes | None = field(default=None, repr=False)


def load_key_file(path: Path | str) -> Sender:
    """A private key file: 64 hex digits (``0x`` optional, surrounding whitespace ignored), readable by
    its owner only (as ssh requires of its keys). InputError naming the file otherwise — never quoting
    its content."""
    path = Path(path)
    try:
        mode = path.stat().st_mode
        text = path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(
            [Problem(str(path), f"cannot read the key file: {getattr(exc, 'strerror', None) or 'not ASCII text'}")]
        ) from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise InputError(
            [Problem(str(path), f"the key file is accessible by other users (mode {stat.filemode(mode)})")],
            hint=f"chmod 600 {path}",
        )
    digits = text[2:] if text[:2] in ("0x", "0X") else text
    if len(digits) != 64 or any(c not in "0123456789abcdefABCDEF" for c in digits):
        raise InputError([Problem(str(path), "not a private key: 64 hex digits (optionally 0x-prefixed) expected")])
    key = bytes.fromhex(digits)
    from eth_account import Account

    try:
        address = Account.from_key(key).address
    except ValueError:  # 0 or ≥ the secp256k1 order
        raise InputError([Problem(str(path), "not a valid secp256k1 private key")]) from None
    return Sender(address, key)


def checksum_address(address: object, argument: str) -> str:
    """``address`` in its checksum spelling; ArgumentError naming ``argument`` when it is not one."""
    from web3 import Web3

    if not isinstance(address, str) or not Web3.is_address(address):
        raise ArgumentError(argument, f"{address!r} is not an Ethereum address (0x and 40 hex digits)")
    return Web3.to_checksum_address(address)


# ---------------------------------------------------------------------------
# The chain


class RpcChain(evm.Chain):
    """A node reached over HTTP JSON-RPC. ``transact`` simulates, checks funds, signs (or asks the node
    to sign for an unlocked account), sends, waits for the receipt and records the transaction; a
    revert is a RevertedError with the decoded reason, a node failure a ChainError."""

    def __init__(
        self,
        url: str,
        sender: Sender,
        receipt_timeout: float = RECEIPT_TIMEOUT,
        on_event: EventSink = ignore,
    ) -> None:
        try:
            from web3 import Web3
        except ImportError as exc:
            raise evm.EvmError(f"publishing needs web3 (pip install 'zksolv[evm]'): {exc}") from None
        self.url = url
        self.w3 = Web3(Web3.HTTPProvider(url, request_kwargs={"timeout": REQUEST_TIMEOUT}))
        self.sender = sender
        self.owner = sender.address
        self.receipt_timeout = receipt_timeout
        self.on_event = on_event
        self.transactions: list[dict] = []
        self.chain_id = int(self.w3.eth.chain_id)
        if sender.key is None and sender.address not in self.w3.eth.accounts:
            raise ArgumentError(
                "sender", f"the node at {url} holds no unlocked account {sender.address}", hint="use --key-file"
            )

    def transact(self, fn, gas: int = evm.CALL_GAS, sender: str | None = None, what: str | None = None):
        """Send ``fn`` (a contract call or constructor) from the sender with gas limit ``gas``; return the
        receipt of the mined transaction (status 1). ``what`` names it in messages and the transaction
        list (default: the function's name, or "deployment")."""
        from web3.exceptions import ContractLogicError

        if sender not in (None, self.owner):
            raise ValueError("an RpcChain sends from its own sender only")
        what = what or getattr(fn, "fn_name", None) or "deployment"
        abi = getattr(fn, "contract_abi", None) or fn.abi
        tx = fn.build_transaction(
            {
                "from": self.owner,
                "gas": gas,
                "chainId": self.chain_id,
                "nonce": self.w3.eth.get_transaction_count(self.owner, "pending"),
            }
        )
        probe = {k: tx[k] for k in ("from", "to", "data", "gas", "value") if k in tx}
        try:
            self.w3.eth.call(probe)
        except ContractLogicError as exc:
            raise RevertedError(what, self.describe_revert(abi, exc)) from None
        fee = int(tx.get("maxFeePerGas", tx.get("gasPrice", 0)))
        balance = int(self.w3.eth.get_balance(self.owner))
        if balance < gas * fee:
            raise PublishError(
                f"{self.owner} holds {balance} wei on chain {self.chain_id}; {what} may need up to "
                f"{gas * fee} wei (gas limit {gas:,} × max fee {fee} wei): nothing was sent",
                hint="fund the account, then run the same command again: it resumes",
            )
        if self.sender.key is not None:
            signed = self.w3.eth.account.sign_transaction(tx, self.sender.key)
            tx_hash = self.w3.eth.send_raw_transaction(signed.raw_transaction)
        else:
            tx_hash = self.w3.eth.send_transaction(tx)
        hex_hash = "0x" + bytes(tx_hash).hex()
        self.on_event(step(f"{what}: sent {hex_hash}"))
        from web3.exceptions import TimeExhausted

        try:
            receipt = self.w3.eth.wait_for_transaction_receipt(tx_hash, timeout=self.receipt_timeout, poll_latency=0.2)
        except TimeExhausted:
            raise ChainError(
                f"no receipt for {what} ({hex_hash}) after {self.receipt_timeout:.0f} s",
                hint="run the same command again once it is mined (or dropped): it resumes from the chain",
            ) from None
        if receipt.status != 1:
            try:  # the reason: the same call replayed on the state it was mined on
                self.w3.eth.call(probe, receipt.blockNumber - 1)
                reason = "reverted (no reason when replayed)"
            except ContractLogicError as exc:
                reason = self.describe_revert(abi, exc)
            raise RevertedError(what, reason, hex_hash)
        record = {
            "what": what,
            "tx_hash": hex_hash,
            "gas_used": int(receipt.gasUsed),
            "block": int(receipt.blockNumber),
        }
        if receipt.contractAddress:
            record["address"] = receipt.contractAddress
        self.transactions.append(record)
        self.on_event(step(f"{what}: mined in block {record['block']}, {record['gas_used']:,} gas"))
        return receipt

    def describe_revert(self, abi: list, exc: Exception) -> str:
        """A revert as the contract's custom error with its arguments (``Name(arg=value, …)``), a
        require's message or a panic code; the node's own message when the data is none of these."""
        from eth_abi import decode

        data = getattr(exc, "data", None)
        if isinstance(data, dict):  # Hardhat: {"message": …, "data": "0x…"}
            data = data.get("data")
        if not isinstance(data, str) or not data.startswith("0x"):  # a node that only quotes it in the message
            found = re.search(r"return data: (0x[0-9a-fA-F]*)", str(exc))
            data = found.group(1) if found else None
        raw = bytes.fromhex(data[2:]) if data else None
        if not raw or len(raw) < 4:
            return str(exc)
        if raw[:4] == bytes.fromhex("08c379a0"):  # Error(string)
            return f"Error({decode(['string'], raw[4:])[0]!r})"
        if raw[:4] == bytes.fromhex("4e487b71"):  # Panic(uint256)
            return f"Panic(0x{decode(['uint256'], raw[4:])[0]:02x})"
        item = evm.abi_error(self.w3, abi, raw)
        if item is None:
            return f"unknown error 0x{raw.hex()}"
        values = decode([i["type"] for i in item["inputs"]], raw[4:])
        args = ", ".join(f"{i['name']}={_shown(v)}" for i, v in zip(item["inputs"], values))
        return f"{item['name']}({args})"


def _shown(value: Any) -> str:
    return "0x" + value.hex() if isinstance(value, bytes) else str(value)


# ---------------------------------------------------------------------------
# Publishing


@dataclass
class PublishResult:
    """What a run did and what the registry now says (``document()``: `zksolv publish --json`)."""

    rpc: str
    chain_id: int
    sender: str
    epoch: str
    epoch_seconds: int
    registry: str
    contracts: dict[str, dict]  # name → {"address", "deployed" (in this run), "tx_hash", "gas_used"}
    audit: dict
    acc_0: str
    transactions: list[dict]
    batches: list[dict]  # index, status ("submitted" | "already proven" | "pending"), tx_hash, gas_used
    fully_proven: bool
    fully_proven_and_opened: bool
    liquidations: dict | None

    @property
    def complete(self) -> bool:
        return self.fully_proven_and_opened

    def document(self) -> dict:
        return {
            "rpc": self.rpc,
            "chain_id": self.chain_id,
            "sender": self.sender,
            "epoch": self.epoch,
            "epoch_seconds": self.epoch_seconds,
            "registry": self.registry,
            "contracts": self.contracts,
            "audit_ok": self.audit["ok"],
            "audit": self.audit["checks"],
            "acc_0": self.acc_0,
            "transactions": self.transactions,
            "gas_used": sum(t["gas_used"] for t in self.transactions),
            "batches": self.batches,
            "submitted": sum(1 for b in self.batches if b["status"] == "submitted"),
            "skipped": sum(1 for b in self.batches if b["status"] == "already proven"),
            "pending": sum(1 for b in self.batches if b["status"] == "pending"),
            "fully_proven": self.fully_proven,
            "fully_proven_and_opened": self.fully_proven_and_opened,
            "complete": self.complete,
            "liquidations": self.liquidations,
        }


def publish_bundle(
    bundle: Path | str,
    rpc: str,
    sender: Sender,
    registry: str | None = None,
    *,
    chain_id: int | None = None,
    max_batches: int | None = None,
    verify: bool = True,
    receipt_timeout: float = RECEIPT_TIMEOUT,
    on_event: EventSink = ignore,
) -> PublishResult:
    """Publish ``bundle`` on the chain at ``rpc`` (see the module docstring for the order of a run) and
    return what was sent and what the registry says. ``registry``: the address of a SolvencyRegistry to
    reuse (audited first); None deploys one. ``chain_id``: refuse any other chain. ``max_batches``: submit
    at most that many batches in this run (the rest stay "pending"; a later run resumes). ``verify``:
    verify the bundle first (python backend), refusing an invalid one (ClaimError)."""
    if max_batches is not None and (not isinstance(max_batches, int) or max_batches < 0):
        raise ArgumentError("max_batches", f"{max_batches!r} is not a number of batches ≥ 0")
    from requests.exceptions import RequestException
    from web3.exceptions import ProviderConnectionError, Web3RPCError

    try:
        return _publish(bundle, rpc, sender, registry, chain_id, max_batches, verify, receipt_timeout, on_event)
    except (RequestException, ProviderConnectionError, OSError) as exc:
        raise ChainError(f"the JSON-RPC node at {rpc} cannot be reached: {_first_line(exc)}") from None
    except Web3RPCError as exc:
        raise ChainError(f"the JSON-RPC node at {rpc} answered with an error: {_first_line(exc)}") from None


def _first_line(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text.splitlines()[0][:300]


def _publish(
    bundle: Path | str,
    rpc: str,
    sender: Sender,
    registry_address: str | None,
    chain_id: int | None,
    max_batches: int | None,
    verify: bool,
    receipt_timeout: float,
    on_event: EventSink,
) -> PublishResult:
    folder = Path(bundle)
    if not folder.is_dir():
        raise InputError([Problem(str(folder), "not a bundle folder")])
    if registry_address is not None:
        registry_address = checksum_address(registry_address, "registry")
    if verify:
        _verify_first(folder, on_event)
    manifest = load_manifest(folder)
    data = manifest.model_dump()
    pub = evm.publication(folder, data)
    op = evm.opening(data)
    shape = evm.registry_shape(data)
    calldata = [evm.batch_calldata(folder, i) for i in range(pub.n_batches)]
    compiled = evm.compile_bundle(folder)
    verifier_artefact = evm.artefact(compiled, evm.VERIFIER_CONTRACT)
    reference = evm.EvmChain()  # in-process: the expected runtime code hashes, without sending anything
    expected_codehash = evm.runtime_codehash(reference, verifier_artefact)

    on_event(step(f"connecting to {rpc}"))
    chain = RpcChain(rpc, sender, receipt_timeout, on_event)
    if chain_id is not None and chain.chain_id != chain_id:
        raise PublishError(f"the node at {rpc} is chain {chain.chain_id}, not chain {chain_id}: nothing was sent")
    on_event(step(f"chain {chain.chain_id}, sending from {sender.address}"))

    registry_abi = evm.artefact(compiled, evm.REGISTRY_CONTRACT)["abi"]
    contracts: dict[str, dict] = {}
    if registry_address is None:
        registry = _deploy(chain, compiled, verifier_artefact, shape, contracts, on_event)
    else:
        if not bytes(chain.w3.eth.get_code(registry_address)):
            raise PublishError(
                f"no contract at {registry_address} on chain {chain.chain_id} (another chain, or a wrong address): "
                "nothing was sent"
            )
        registry = chain.at(registry_address, registry_abi)
        contracts[evm.REGISTRY_CONTRACT] = {"address": registry_address, "deployed": False}
    on_event(step(f"auditing the registry at {registry.address}"))
    audit = evm.audit_registry(chain, registry, expected_codehash, shape, reference=reference)
    if not audit["ok"]:
        failed = [
            f"  {c['name']}: expected {c['expected']}, found {c['actual']}" for c in audit["checks"] if not c["ok"]
        ]
        raise PublishError(
            f"the registry at {registry.address} is not pinned to this bundle's verifier and shape {shape.shape}; "
            "nothing was sent. Failed checks:\n" + "\n".join(failed)
        )
    for name, key in (
        (evm.VERIFIER_CONTRACT, "verifier"),
        (evm.POSEIDON2_CONTRACT, "poseidon2"),
        (evm.POSEIDON8_CONTRACT, "poseidon8"),
    ):
        contracts.setdefault(name, {"address": audit["registry"][key], "deployed": False})

    acc_0 = _publish_epoch(chain, registry, pub, manifest.acc_0, shape, on_event)
    fns = registry.functions
    if not chain.call(fns.isOpened(pub.epoch)):
        chain.transact(evm.open_fn(registry, op), gas=evm.open_gas_limit(shape), what="openTotals")

    batches = []
    sent = 0
    for index, cd in enumerate(calldata):
        proven, acc_in, acc_out = chain.call(fns.batchRecord(pub.epoch, index))
        if proven:
            if (acc_in, acc_out) != cd.public[1:]:
                raise PublishError(
                    f"batch {index} is proven on-chain with other accumulators than {folder / batch_dir(index)}'s "
                    f"(acc_in {acc_in}, acc_out {acc_out}): the epoch's chain cannot link"
                )
            batches.append({"index": index, "status": "already proven"})
            on_event(step(f"batch {index}: already proven on-chain, skipped"))
            continue
        if max_batches is not None and sent >= max_batches:
            batches.append({"index": index, "status": "pending"})
            continue
        receipt = chain.transact(evm.submit_fn(registry, pub.epoch, index, cd), what=f"submitBatch {index}")
        sent += 1
        record = chain.transactions[-1]
        batches.append(
            {"index": index, "status": "submitted", "tx_hash": record["tx_hash"], "gas_used": int(receipt.gasUsed)}
        )

    info = chain.call(fns.epochInfo(pub.epoch))
    if info[7]:
        raise PublishError(
            f"the accumulator chain of epoch {pub.epoch} is broken on the registry at {registry.address} "
            "(a ChainBroken event names the link): it can never be fully proven there"
        )
    fully = bool(chain.call(fns.isFullyProven(pub.epoch)))
    opened = bool(chain.call(fns.isFullyProvenAndOpened(pub.epoch)))
    figures = tuple(int(v) for v in chain.call(fns.liquidations(pub.epoch)))
    on_event(step(f"isFullyProven: {fully}; isFullyProvenAndOpened: {opened}"))
    return PublishResult(
        rpc=rpc,
        chain_id=chain.chain_id,
        sender=sender.address,
        epoch=manifest.epoch,
        epoch_seconds=pub.epoch,
        registry=registry.address,
        contracts=contracts,
        audit=audit,
        acc_0=str(acc_0),
        transactions=chain.transactions,
        batches=batches,
        fully_proven=fully,
        fully_proven_and_opened=opened,
        liquidations={
            "accounts_below_maintenance": figures[0],
            "shortfall": str(figures[1]),
            "bankrupt_accounts": figures[2],
            "bad_debt": str(figures[3]),
        },
    )


def _verify_first(folder: Path, on_event: EventSink) -> None:
    """The checks no registry makes (batch roots → root, params hash ↔ params.json, the manifest's
    figures): an invalid bundle is never published."""
    from .verify import select_backends, verify_bundle

    on_event(step(f"verifying {folder}"))
    report = verify_bundle(folder, backends=select_backends("python"))
    if not report.valid:
        failed = "; ".join(f"{c.name}: {c.detail}" for c in report.checks if not c.ok)
        raise ClaimError(f"{folder} does not verify, so it is not published ({failed})")


def _deploy(chain: RpcChain, compiled: dict, verifier_artefact: dict, shape, contracts: dict, on_event: EventSink):
    """The bundle's verifier, the two Poseidon contracts and a registry pinned to them and the shape."""
    deployed = []
    for name, artefact in (
        (evm.VERIFIER_CONTRACT, verifier_artefact),
        (evm.POSEIDON2_CONTRACT, evm.poseidon2_artefact()),
        (evm.POSEIDON8_CONTRACT, evm.poseidon8_artefact()),
    ):
        on_event(step(f"deploying {name}"))
        contract, _ = _deploy_one(chain, name, lambda a=artefact: chain.deploy(a))
        deployed.append(contract)
        contracts[name] = _deployment(chain, name, contract.address)
    verifier, poseidon2, poseidon8 = deployed
    on_event(step(f"deploying {evm.REGISTRY_CONTRACT} for shape {shape.shape}"))
    registry, _ = _deploy_one(
        chain,
        evm.REGISTRY_CONTRACT,
        lambda: evm.deploy_registry(chain, compiled, verifier.address, poseidon2.address, poseidon8.address, shape),
    )
    contracts[evm.REGISTRY_CONTRACT] = _deployment(chain, evm.REGISTRY_CONTRACT, registry.address)
    # The one address to keep: a later run reuses it (registry=…) and resumes there.
    on_event(step(f"registry deployed at {registry.address} (pass it to resume or to publish later epochs)"))
    return registry


def _deploy_one(chain: RpcChain, name: str, deploy):
    """Name the contract in a revert: a constructor's transaction is otherwise just "transaction"."""
    try:
        return deploy()
    except RevertedError as exc:
        raise RevertedError(f"deploying {name}", exc.reason, exc.tx_hash) from None


def _deployment(chain: RpcChain, name: str, address: str) -> dict:
    """The deployment just mined, named in the transaction list and as a contract of the result."""
    record = chain.transactions[-1]
    record["what"] = f"deploy {name}"
    return {"address": address, "deployed": True, "tx_hash": record["tx_hash"], "gas_used": record["gas_used"]}


def _publish_epoch(chain: RpcChain, registry, pub: evm.Publication, manifest_acc_0: str, shape, on_event):
    """Publish the epoch and its batch roots, or check that the published one is this bundle's and
    append the roots still missing; return the acc_0 the registry derived (checked against ours)."""
    from .poseidon import poseidon

    fns = registry.functions
    expected_acc_0 = poseidon([pub.params_hash, shape.zero_totals_commitment])
    if int(manifest_acc_0) != expected_acc_0:
        raise PublishError(
            f"the manifest's acc_0 is not Poseidon2(params_hash, Z) ({expected_acc_0}): nothing was sent"
        )
    info = chain.call(fns.epochInfo(pub.epoch))
    root, params_hash, acc_0, acc_n, n_batches, published = (int(v) for v in info[:6])
    if n_batches == 0:
        owner = chain.call(fns.owner())
        if owner != chain.owner:
            raise PublishError(
                f"the registry at {registry.address} is owned by {owner}; only its owner publishes epochs "
                f"({chain.owner} cannot): nothing was sent"
            )
        first = min(ROOTS_PER_TRANSACTION, pub.n_batches)
        on_event(step(f"publishing epoch {pub.epoch} ({pub.n_batches} batches)"))
        chain.transact(evm.publish_fn(registry, pub, first), gas=evm.roots_gas_limit(first), what="publishEpoch")
        published = first
        acc_0 = int(chain.call(fns.epochInfo(pub.epoch))[2])
    else:
        ours = (pub.root, pub.params_hash, pub.acc_n, pub.n_batches)
        theirs = (root, params_hash, acc_n, n_batches)
        if ours != theirs:
            names = ("root", "params hash", "acc_n", "batch count")
            diff = "; ".join(f"{n} {t} (bundle: {o})" for n, o, t in zip(names, ours, theirs) if o != t)
            raise PublishError(
                f"epoch {pub.epoch} is already published on the registry at {registry.address} with another claim: "
                f"{diff}. An epoch is published once and never changed: nothing was sent"
            )
        for index in range(published):
            onchain = int(chain.call(fns.publishedBatchRoot(pub.epoch, index)))
            if onchain != pub.batch_roots[index]:
                raise PublishError(
                    f"batch root {index} of epoch {pub.epoch} on the registry is {onchain}, not the bundle's "
                    f"{pub.batch_roots[index]}: nothing was sent"
                )
        on_event(step(f"epoch {pub.epoch} already published ({published} of {pub.n_batches} batch roots)"))
    while published < pub.n_batches:
        count = min(ROOTS_PER_TRANSACTION, pub.n_batches - published)
        chain.transact(
            evm.append_fn(registry, pub, published, count),
            gas=evm.roots_gas_limit(count),
            what=f"appendBatchRoots {published}…{published + count - 1}",
        )
        published += count
    if acc_0 != expected_acc_0:
        raise PublishError(f"the registry derived acc_0 {acc_0}, not Poseidon2(params_hash, Z) = {expected_acc_0}")
    return acc_0


# ---------------------------------------------------------------------------
# A local development node (tests, benchmarks, trying publish out)

HARDHAT_CONFIG = evm.REPO_ROOT / "contracts" / "hardhat.config.js"


@dataclass(frozen=True)
class LocalNode:
    """A running Hardhat node: its URL and the private keys of its funded development accounts (the
    publicly known ones of Hardhat's mnemonic: never for a real chain)."""

    url: str
    keys: tuple[str, ...]
    pid: int


def free_port() -> int:
    """A TCP port on 127.0.0.1 nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def rpc_request(url: str, method: str, params: list | None = None, timeout: float = 5.0) -> Any:
    """One JSON-RPC call with the standard library (no web3): the ``result``, or OSError / ValueError."""
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params or []}).encode()
    request = urllib.request.Request(url, body, {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        answer = json.loads(response.read())
    if "error" in answer:
        raise ValueError(f"{method}: {answer['error']}")
    return answer["result"]


@contextmanager
def local_node(port: int | None = None, timeout: float = 90.0) -> Iterator[LocalNode]:
    """Start Hardhat's node (npm ``hardhat``, contracts/hardhat.config.js: chain 31337, explicit fork and
    gas limits) on 127.0.0.1, wait until it answers eth_chainId, yield it, stop it. ToolchainError if
    it is not installed or does not come up within ``timeout`` seconds."""
    from .toolchain import node, node_modules

    cli = node_modules() / "hardhat" / "internal" / "cli" / "cli.js"
    if not cli.exists():
        raise ToolchainError(f"{cli} not found: run `npm ci` (hardhat runs the local JSON-RPC node)")
    port = port or free_port()
    url = f"http://127.0.0.1:{port}"
    log = tempfile.TemporaryFile(mode="w+")
    # Hardhat refuses to run outside the project it is installed in, hence cwd; telemetry would prompt.
    env = {**os.environ, "HARDHAT_DISABLE_TELEMETRY_PROMPT": "true", "HARDHAT_DISABLE_TELEMETRY": "true"}
    args = ["node", "--config", str(HARDHAT_CONFIG), "--hostname", "127.0.0.1", "--port", str(port)]
    process = subprocess.Popen(
        [node(), str(cli), *args], cwd=evm.REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
    )
    try:
        deadline = time.monotonic() + timeout
        keys: tuple[str, ...] = ()
        while not keys:
            try:
                if int(rpc_request(url, "eth_chainId", timeout=2.0), 16):
                    log.seek(0)  # the node lists its accounts once it serves: ready when one is listed
                    keys = tuple(re.findall(r"Private Key: (0x[0-9a-fA-F]{64})", log.read()))
            except (OSError, ValueError):
                pass
            if keys:
                break
            if process.poll() is not None or time.monotonic() > deadline:
                log.seek(0)
                raise ToolchainError(f"the Hardhat node did not start on {url}:\n{log.read()[-2000:]}")
            time.sleep(0.2)
        yield LocalNode(url, keys, process.pid)
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()
