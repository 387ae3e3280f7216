"""The third verifier: the bundle's Solidity verifier, run on a real EVM.

snarkjs (JavaScript) and py_ecc (Python) check proofs off-chain; this module
runs the exact contract a chain would run — the bundle's ``Verifier.sol``
compiled with the pinned solc-js and executed by py-evm, including its
precompiles (ecAdd, ecMul, ecPairing) — so a proof accepted off-chain is known
to be accepted on-chain too, and the gas figures are those of real
transactions.

It also deploys ``contracts/SolvencyRegistry.sol`` — pinned at construction to
the bundle's verifier, to circomlibjs's Poseidon-2 contract (which derives acc_0
on-chain) and to the circuit shape's constants — replays the venue's publication
of the epoch from the manifest and submits every batch proof, so the registry's
own checks (batch roots, accumulator chain from Poseidon2(params_hash, Z)) run on
the bundle. ``audit_registry`` is the once-per-registry check a reader makes of a
deployed registry's immutables and code hashes.

web3 / eth-tester / py-evm are an optional extra (``pip install 'zksolv[evm]'``)
and are imported only when a chain is created, so ``import zksolv`` never
needs them. Compiling needs Node and the npm ``solc`` package (``npm ci``).

Gas pitfall: snarkjs verifiers *return false* (instead of reverting) when a
precompile call runs out of gas, so ``eth_estimateGas`` on ``verifyProof``
finds a too-low figure that makes the proof fail. Every transaction here
therefore carries an explicit gas limit, and gas is always the receipt's
``gasUsed``.
"""

from __future__ import annotations

import ast
import hashlib
import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from .bundle import batch_dir
from .groth16 import MalformedError, canonical_integer, load_proof_document, load_public_signals
from .io import read_json
from .errors import ZksolvError
from .params import epoch_seconds

REPO_ROOT = Path(__file__).resolve().parent.parent
COMPILE_SCRIPT = Path(__file__).resolve().parent / "js" / "compile_solidity.js"
RENDER_SCRIPT = Path(__file__).resolve().parent / "js" / "render_verifier.js"
POSEIDON2_SCRIPT = Path(__file__).resolve().parent / "js" / "poseidon_contract.js"

VERIFIER_CONTRACT = "Groth16Verifier"
REGISTRY_CONTRACT = "SolvencyRegistry"
VERIFIER_INTERFACE = "IGroth16Verifier"
POSEIDON2_INTERFACE = "IPoseidon2"
#: Name of the circomlibjs Poseidon-2 contract in reports (it has no Solidity source).
POSEIDON2_CONTRACT = "Poseidon2"
#: keccak256("verifyProof(uint256[2],uint256[2][2],uint256[2],uint256[3])")[:4]
#: (hard-coded so export_calldata needs no keccak library; a test checks it against the ABI).
VERIFY_PROOF_SELECTOR = "0x11479fea"

#: Explicit gas limits (never estimate_gas, see the module docstring): ample for a
#: 3-signal Groth16 verification (~230k) and a registry submission (~320k).
CALL_GAS = 5_000_000
DEPLOY_GAS = 10_000_000

_UINT256 = 1 << 256


class EvmError(ZksolvError):
    """The EVM toolchain is missing or failed (web3 not installed, no Node or solc, …)."""


class SolidityError(EvmError):
    """solc rejected a source, or the compiled sources lack an expected contract."""


# ---------------------------------------------------------------------------
# Calldata: proof.json / public.json → the arguments of verifyProof


@dataclass(frozen=True)
class ProofCalldata:
    """The arguments of ``verifyProof(a, b, c, pubSignals)``, as integers.

    ``b`` is in EVM order: each G2 coordinate as (c1, c0), the order of the
    ecPairing precompile (EIP-197); proof.json has (c0, c1).
    """

    a: tuple[int, int]
    b: tuple[tuple[int, int], tuple[int, int]]
    c: tuple[int, int]
    public: tuple[int, ...]

    def args(self) -> tuple[list, list, list, list]:
        return list(self.a), [list(self.b[0]), list(self.b[1])], list(self.c), list(self.public)

    def words(self) -> list[int]:
        return [*self.a, *self.b[0], *self.b[1], *self.c, *self.public]

    def solidity(self) -> str:
        """Exactly the text ``snarkjs zkey export soliditycalldata`` prints."""
        h = _hex256
        return (f"[{h(self.a[0])}, {h(self.a[1])}],"
                f"[[{h(self.b[0][0])}, {h(self.b[0][1])}],[{h(self.b[1][0])}, {h(self.b[1][1])}]],"
                f"[{h(self.c[0])}, {h(self.c[1])}],"
                f"[{','.join(h(x) for x in self.public)}]")

    def data(self) -> str:
        """Transaction data of the call: selector + ABI encoding (all static uint256 words)."""
        return VERIFY_PROOF_SELECTOR + "".join(f"{w:064x}" for w in self.words())


def _word(value: int) -> str:
    return f"0x{value:064x}"


def _hex256(value: int) -> str:
    return f'"{_word(value)}"'


# Strict on purpose, like zksolv.groth16: only the encoding snarkjs writes. snarkjs
# itself also reads hex, leading zeros, Jacobian z ≠ 1 and [x, y] arrays; accepting
# other spellings than the published one would let the backends disagree about
# what a bundle says.
def _uint(value: Any) -> int:
    """A canonical decimal string (as snarkjs writes numbers) that fits a uint256.
    Values ≥ q or ≥ r are passed on: the precompiles and the verifier reject them."""
    try:
        return canonical_integer(value, _UINT256, "calldata value")
    except MalformedError as exc:
        raise ValueError(str(exc)) from None


def _affine(point: Any, one: Any) -> list:
    """snarkjs writes points as [x, y, z] with z = 1; the EVM takes (x, y). Any other
    z (including snarkjs's infinity [0, 1, 0], which the EVM would spell (0, 0)) is refused."""
    if not isinstance(point, list) or len(point) != 3:
        raise ValueError("a proof point must be [x, y, z]")
    if point[2] != one:
        raise ValueError(f"a proof point's z must be {one!r} (affine)")
    return point[:2]


def proof_calldata(proof: Any, public: Any) -> ProofCalldata:
    """verifyProof's arguments for a snarkjs proof.json / public.json pair.

    Raises ValueError when the files cannot be the arguments of verifyProof
    (not three public signals, a number outside uint256, a non-affine point): such
    a proof is rejected, never silently repaired.
    """
    if not isinstance(proof, dict):
        raise ValueError("proof.json must be an object")
    if not isinstance(public, list) or len(public) != 3:
        raise ValueError("public.json must hold exactly 3 signals")
    a = [_uint(x) for x in _affine(proof.get("pi_a"), "1")]
    c = [_uint(x) for x in _affine(proof.get("pi_c"), "1")]
    b_json = _affine(proof.get("pi_b"), ["1", "0"])
    b = []
    for coordinate in b_json:
        if not isinstance(coordinate, list) or len(coordinate) != 2:
            raise ValueError("a G2 coordinate must be [c0, c1]")
        c0, c1 = (_uint(x) for x in coordinate)
        b.append((c1, c0))  # EVM order
    return ProofCalldata((a[0], a[1]), (b[0], b[1]), (c[0], c[1]), tuple(_uint(x) for x in public))


def export_calldata(folder: Path | str) -> list[dict]:
    """For each batch, the exact arguments of ``verifyProof`` ready for a real chain.

    Each entry: ``index``; ``a``, ``b``, ``c``, ``public`` as 0x-hex strings (b in EVM
    (c1, c0) order) and the same as decimal strings under ``decimal``;
    ``solidity``: the text snarkjs's soliditycalldata prints; ``data``: the full
    transaction data (selector + ABI encoding), e.g. for ``cast call <verifier> <data>``.
    Raises ValueError for a proof that cannot be verifyProof's arguments.
    """
    folder = Path(folder)
    manifest = read_json(folder / "manifest.json", "manifest")
    out = []
    for index in range(int(manifest["n_batches"])):
        cd = _batch_calldata(folder, index)
        out.append({
            "index": index,
            "a": [_word(v) for v in cd.a],
            "b": [[_word(v) for v in row] for row in cd.b],
            "c": [_word(v) for v in cd.c],
            "public": [_word(v) for v in cd.public],
            "decimal": {"a": [str(v) for v in cd.a], "b": [[str(v) for v in row] for row in cd.b],
                        "c": [str(v) for v in cd.c], "public": [str(v) for v in cd.public]},
            "solidity": cd.solidity(),
            "data": cd.data(),
        })
    return out


def _batch_calldata(folder: Path, index: int) -> ProofCalldata:
    base = folder / batch_dir(index)
    # The same strict parsing verify runs before any backend (groth16.load_*): calldata only from files in
    # snarkjs's canonical encoding, the signals rendered from the parsed integers.
    public = [str(v) for v in load_public_signals(base / "public.json")]
    return proof_calldata(load_proof_document(base / "proof.json"), public)


# ---------------------------------------------------------------------------
# Compiling (solc-js through Node), cached by content


def solc_version() -> str:
    """The npm solc package's version (read from its package.json: no Node start-up)."""
    from .circuit import node_modules

    path = node_modules() / "solc" / "package.json"
    try:
        return json.loads(path.read_text())["version"]
    except (OSError, ValueError, KeyError):
        raise EvmError(f"{path} not found: run `npm ci` (the npm solc package compiles the contracts)") from None


def registry_source() -> Path:
    """contracts/SolvencyRegistry.sol (``$ZKSOLV_CONTRACTS`` overrides the folder)."""
    folder = Path(os.environ["ZKSOLV_CONTRACTS"]) if os.environ.get("ZKSOLV_CONTRACTS") else REPO_ROOT / "contracts"
    return folder / "SolvencyRegistry.sol"


def compile_contracts(sources: Sequence[Path | str], cache_root: Path | None = None) -> dict:
    """Compile ``sources`` together; return ``{"solc", "contracts": {"File.sol:Name": {abi, bytecode}}, "warnings"}``.

    Cached under ``<repo>/build/solidity/<hash>``, where the hash covers the solc
    version, the compile script (settings) and every source's name and text —
    so a new verification key (a new Verifier.sol) or a compiler bump recompiles,
    and nothing else does (a solc-js compile takes seconds).
    """
    from .circuit import CircuitError, _node, default_build_root, node_modules

    paths = [Path(s) for s in sources]
    digest = hashlib.sha256()
    for part in (solc_version().encode(), COMPILE_SCRIPT.read_bytes()):
        digest.update(hashlib.sha256(part).digest())
    for path in paths:
        try:
            text = path.read_bytes()
        except OSError as exc:
            raise EvmError(f"cannot read {path}: {exc.strerror or exc}") from None
        digest.update(hashlib.sha256(path.name.encode()).digest() + hashlib.sha256(text).digest())
    cache = (cache_root or default_build_root() / "solidity") / digest.hexdigest()[:24] / "compiled.json"
    if cache.exists():
        return json.loads(cache.read_text())
    try:
        node = _node()
    except CircuitError as exc:
        raise EvmError(str(exc)) from None
    proc = subprocess.run([node, str(COMPILE_SCRIPT), *map(str, paths)], capture_output=True, text=True,
                          env={**os.environ, "ZKSOLV_NODE_MODULES": str(node_modules())})
    if proc.returncode != 0:
        raise SolidityError(f"solc failed on {', '.join(p.name for p in paths)}:\n{proc.stderr.strip()}")
    compiled = json.loads(proc.stdout)
    cache.parent.mkdir(parents=True, exist_ok=True)
    tmp = cache.with_suffix(f".tmp{os.getpid()}")
    tmp.write_text(proc.stdout)
    os.replace(tmp, cache)  # concurrent compiles of the same sources write the same bytes
    return compiled


def artefact(compiled: dict, name: str) -> dict:
    """``{abi, bytecode}`` of contract ``name`` (whatever file declares it)."""
    found = [v for k, v in compiled["contracts"].items() if k.split(":", 1)[1] == name]
    if len(found) != 1:
        raise SolidityError(f"expected exactly one contract {name}, found {len(found)}")
    return found[0]


def render_verifier(vkey_path: Path | str) -> str:
    """snarkjs's Verifier.sol for a verification key (its own template, via render_verifier.js)."""
    from .circuit import CircuitError, _node, node_modules

    try:
        node = _node()
    except CircuitError as exc:
        raise EvmError(str(exc)) from None
    proc = subprocess.run([node, str(RENDER_SCRIPT), str(vkey_path)], capture_output=True, text=True,
                          env={**os.environ, "ZKSOLV_NODE_MODULES": str(node_modules())})
    if proc.returncode != 0:
        raise EvmError(f"cannot render the verifier for {vkey_path}: {proc.stderr.strip()[:300]}")
    return proc.stdout


def poseidon2_artefact(cache_root: Path | None = None) -> dict:
    """``{abi, bytecode, circomlibjs}`` of circomlib's Poseidon with 2 inputs: the bytecode
    circomlibjs's ``poseidonContract.createCode(2)`` generates (no Solidity source exists),
    called through the registry's ``IPoseidon2`` ABI. Cached by circomlibjs version and script.

    The registry accepts only this code (its constructor compares EXTCODEHASH with
    ``POSEIDON2_CODEHASH``), so the npm circomlibjs package is a runtime dependency.
    """
    from .circuit import CircuitError, _node, default_build_root, node_modules

    try:
        version = json.loads((node_modules() / "circomlibjs" / "package.json").read_text())["version"]
    except (OSError, ValueError, KeyError):
        raise EvmError(f"{node_modules() / 'circomlibjs'} not found: run `npm ci` (circomlibjs generates the "
                       f"Poseidon contract)") from None
    digest = hashlib.sha256(version.encode() + b"\0" + POSEIDON2_SCRIPT.read_bytes()).hexdigest()[:24]
    cache = (cache_root or default_build_root() / "solidity") / f"poseidon2-{digest}.json"
    if cache.exists():
        generated = json.loads(cache.read_text())
    else:
        try:
            node = _node()
        except CircuitError as exc:
            raise EvmError(str(exc)) from None
        proc = subprocess.run([node, str(POSEIDON2_SCRIPT)], capture_output=True, text=True,
                              env={**os.environ, "ZKSOLV_NODE_MODULES": str(node_modules())})
        if proc.returncode != 0:
            raise EvmError(f"circomlibjs could not generate the Poseidon contract: {proc.stderr.strip()[:300]}")
        generated = json.loads(proc.stdout)
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_suffix(f".tmp{os.getpid()}")
        tmp.write_text(json.dumps(generated))
        os.replace(tmp, cache)
    abi = [{"type": "function", "name": "poseidon", "stateMutability": "pure",
            "inputs": [{"name": "inputs", "type": "uint256[2]", "internalType": "uint256[2]"}],
            "outputs": [{"name": "", "type": "uint256", "internalType": "uint256"}]}]
    return {"abi": abi, "bytecode": generated["bytecode"], "circomlibjs": generated["circomlibjs"]}


# ---------------------------------------------------------------------------
# The chain


def _web3():
    try:
        from eth_tester import EthereumTester, PyEVMBackend
        from web3 import EthereumTesterProvider, Web3
    except ImportError as exc:
        raise EvmError(f"the EVM backend needs web3 and eth-tester[py-evm] (pip install 'zksolv[evm]'): "
                       f"{exc}") from None
    return Web3, EthereumTesterProvider, EthereumTester, PyEVMBackend


class EvmChain:
    """An in-process py-evm chain (eth-tester; latest fork it supports) with funded
    accounts; every transaction is mined at once. Nothing leaves the process."""

    def __init__(self) -> None:
        Web3, Provider, Tester, Backend = _web3()
        self.tester = Tester(Backend())
        self.w3 = Web3(Provider(self.tester))
        self.accounts = list(self.w3.eth.accounts)
        self.owner = self.accounts[0]

    @property
    def fork(self) -> str:
        return type(self.tester.backend.chain.get_vm()).__name__

    def deploy(self, contract: dict, *args, sender: str | None = None):
        """Deploy ``{abi, bytecode}`` with constructor ``args``; return (contract, deploy gasUsed)."""
        factory = self.w3.eth.contract(abi=contract["abi"], bytecode=contract["bytecode"])
        receipt = self.transact(factory.constructor(*args), gas=DEPLOY_GAS, sender=sender)
        if receipt.status != 1 or not receipt.contractAddress:
            raise EvmError("contract deployment failed")
        return self.w3.eth.contract(address=receipt.contractAddress, abi=contract["abi"]), receipt.gasUsed

    def codehash(self, address: str) -> str:
        """keccak256 of the runtime code at ``address`` (what EXTCODEHASH / ``cast codehash`` give), 0x-hex."""
        return "0x" + bytes(self.w3.keccak(bytes(self.w3.eth.get_code(address)))).hex()

    def at(self, address: str, abi: list):
        return self.w3.eth.contract(address=address, abi=abi)

    def transact(self, fn, gas: int = CALL_GAS, sender: str | None = None):
        """Send a transaction with an explicit gas limit (never estimated); return its receipt.
        A reverted transaction is mined too: its receipt has status 0."""
        tx_hash = fn.transact({"from": sender or self.owner, "gas": gas})
        return self.w3.eth.get_transaction_receipt(tx_hash)

    def call(self, fn, gas: int = CALL_GAS, sender: str | None = None):
        """eth_call with an explicit gas limit; raises TransactionFailed on a revert."""
        return fn.call({"from": sender or self.owner, "gas": gas})

    def revert_error(self, fn, sender: str | None = None) -> str | None:
        """None if ``fn`` succeeds as an eth_call, else the name of the custom error it
        reverts with (decoded from the contract's ABI), or the raw reason."""
        from eth_tester.exceptions import TransactionFailed
        from web3.exceptions import ContractLogicError

        try:
            self.call(fn, sender=sender)
            return None
        except ContractLogicError as exc:
            data = exc.data if isinstance(exc.data, (bytes, str)) else None
            raw = bytes.fromhex(data[2:]) if isinstance(data, str) and data.startswith("0x") else data
            return self._error_name(fn.contract_abi, raw) if raw else str(exc)
        except TransactionFailed as exc:
            message = str(exc.args[0]) if exc.args else ""
            prefix = "execution reverted: "
            raw = None
            if message.startswith(prefix + "b'") or message.startswith(prefix + 'b"'):
                raw = ast.literal_eval(message[len(prefix):])
            return self._error_name(fn.contract_abi, raw) if raw else message

    def _error_name(self, abi: list, raw: bytes) -> str:
        for item in abi:
            if item.get("type") == "error":
                signature = f"{item['name']}({','.join(i['type'] for i in item['inputs'])})"
                if self.w3.keccak(text=signature)[:4] == raw[:4]:
                    return item["name"]
        return "0x" + raw.hex()


# ---------------------------------------------------------------------------
# The bundle on the chain


@dataclass(frozen=True)
class RegistryShape:
    """The constants a SolvencyRegistry is deployed with for one circuit shape SolvencyBatch(K, M, B)
    (besides its verifier): B, and Z = HashChain(Shape(K, M, B), 0…0, 0), so that the registry
    derives acc_0 = Poseidon2(params_hash, Z) itself."""

    n_assets: int
    n_markets: int
    batch_size: int
    zero_totals_commitment: int


def registry_shape(manifest: dict) -> RegistryShape:
    """The registry constants of a bundle's circuit (the manifest's ``circuit`` block)."""
    from .witness import zero_totals_commitment

    circuit = manifest["circuit"]
    k, m, b = int(circuit["n_assets"]), int(circuit["n_markets"]), int(circuit["batch_size"])
    return RegistryShape(k, m, b, zero_totals_commitment(k, m, b))


@dataclass(frozen=True)
class Publication:
    """What the venue publishes for an epoch (SolvencyRegistry.publishEpoch). There is no
    acc_0: the registry derives it from ``params_hash`` and its shape constant Z."""

    epoch: int  # Unix seconds of params.json's epoch
    root: int
    params_hash: int
    acc_n: int
    batch_roots: tuple[int, ...]

    @property
    def n_batches(self) -> int:
        return len(self.batch_roots)


def publication(folder: Path, manifest: dict) -> Publication:
    """The publication of a bundle: acc_n is the manifest's final accumulator (an off-chain
    verifier opens it with the published totals)."""
    roots = tuple(int(r) for r in read_json(folder / "batch_roots.json", "batch roots"))
    return Publication(epoch=epoch_seconds(manifest["epoch"]), root=int(manifest["root"]),
                       params_hash=int(manifest["params_hash"]),
                       acc_n=int(manifest["final_accumulator"]["acc"]), batch_roots=roots)


def compile_bundle(folder: Path) -> dict:
    """The bundle's Verifier.sol and the registry, compiled together (cached)."""
    return compile_contracts([registry_source(), Path(folder) / "Verifier.sol"])


def deploy_poseidon2(chain: EvmChain):
    """Deploy circomlibjs's Poseidon-2 contract; return (contract, deploy gasUsed)."""
    return chain.deploy(poseidon2_artefact())


def deploy_registry(chain: EvmChain, compiled: dict, verifier_address: str, poseidon2_address: str,
                    shape: RegistryShape, sender: str | None = None):
    """Deploy a SolvencyRegistry pinned to ``verifier_address``, ``poseidon2_address`` and the
    shape's (B, Z); return (contract, deploy gasUsed). Raises EvmError if the constructor
    reverts (no verifier code, a Poseidon contract that is not circomlibjs's, Z ≥ r)."""
    return chain.deploy(artefact(compiled, REGISTRY_CONTRACT), verifier_address, poseidon2_address,
                        shape.batch_size, shape.zero_totals_commitment, sender=sender)


def publish(chain: EvmChain, registry, pub: Publication, gas: int = DEPLOY_GAS):
    """The venue's publishEpoch transaction (all batch roots at once); returns the receipt."""
    fn = registry.functions.publishEpoch(pub.epoch, pub.root, pub.params_hash, pub.acc_n, pub.n_batches,
                                         list(pub.batch_roots))
    return chain.transact(fn, gas=gas)


def submit_fn(registry, epoch: int, index: int, cd: ProofCalldata):
    """The registry's submitBatch call for one batch (public signals = batch_root, acc_in, acc_out)."""
    a, b, c, public = cd.args()
    return registry.functions.submitBatch(epoch, index, public[0], public[1], public[2], a, b, c)


def runtime_codehash(chain: EvmChain, contract: dict) -> str:
    """keccak256 of the runtime code ``{abi, bytecode}`` deploys (without constructor arguments):
    for a snarkjs verifier, what a chain's EXTCODEHASH must show for the audited key."""
    deployed, _ = chain.deploy(contract)
    return chain.codehash(deployed.address)


def audit_registry(chain: EvmChain, registry, expected_verifier_codehash: str, shape: RegistryShape,
                   expected_owner: str | None = None) -> dict:
    """The once-per-registry checks that make ``isFullyProven`` mean what the contract says:
    its immutables (verifier, Poseidon-2, batch size, Z, owner) and the code behind them.

    ``expected_verifier_codehash``: keccak256 of the audited key's verifier runtime code
    (``runtime_codehash`` of Verifier.sol compiled with the pinned solc settings). Returns
    ``{"ok", "checks": [{name, ok, expected, actual}], "registry": {...immutables}}``. The
    registry's own code is not compared here (its runtime code embeds the immutables; a
    chain explorer's source verification covers it).
    """
    fns = registry.functions
    verifier = chain.call(fns.verifier())
    poseidon = chain.call(fns.poseidon2())
    pinned = "0x" + bytes(chain.call(fns.POSEIDON2_CODEHASH())).hex()
    expected_poseidon = runtime_codehash(chain, poseidon2_artefact())
    immutables = {
        "owner": chain.call(fns.owner()),
        "verifier": verifier,
        "poseidon2": poseidon,
        "batch_size": chain.call(fns.batchSize()),
        "zero_totals_commitment": chain.call(fns.zeroTotalsCommitment()),
        "verifier_codehash": chain.codehash(verifier),
        "poseidon2_codehash": chain.codehash(poseidon),
    }
    checks = [
        ("verifier code is the audited key's", expected_verifier_codehash, immutables["verifier_codehash"]),
        ("Poseidon-2 code is circomlibjs's", expected_poseidon, immutables["poseidon2_codehash"]),
        ("registry pins circomlibjs's Poseidon-2 code", expected_poseidon, pinned),
        ("batch size is the shape's B", shape.batch_size, immutables["batch_size"]),
        ("Z is the shape's zero-totals commitment", shape.zero_totals_commitment,
         immutables["zero_totals_commitment"]),
    ]
    if expected_owner is not None:
        checks.append(("owner is the venue", expected_owner, immutables["owner"]))
    rows = [{"name": name, "ok": expected == actual, "expected": expected, "actual": actual}
            for name, expected, actual in checks]
    return {"ok": all(r["ok"] for r in rows), "checks": rows, "registry": immutables}


def evm_backend(folder: Path, manifest: dict) -> list[bool]:
    """Proof backend for zksolv.verify: one verdict per batch index from the bundle's
    own Verifier.sol, compiled with the pinned solc and run on py-evm (an eth_call of
    ``verifyProof`` per batch). A proof the contract rejects — or that cannot be
    encoded as its arguments at all — is False.

    Raises EvmError when the EVM toolchain is missing, and returns all False when
    the bundle's Verifier.sol does not compile or deploy (there is no verifier).
    """
    folder = Path(folder)
    n = int(manifest["n_batches"])
    try:
        compiled = compile_bundle(folder)
        verifier_artefact = artefact(compiled, VERIFIER_CONTRACT)
    except SolidityError:
        return [False] * n  # no verifier contract: no proof can verify (verify.py reports why)
    chain = EvmChain()
    try:
        verifier, _ = chain.deploy(verifier_artefact)
    except EvmError:
        return [False] * n
    # Call through the fixed interface ABI, not whatever the bundle's file declares.
    verifier = chain.at(verifier.address, artefact(compiled, VERIFIER_INTERFACE)["abi"])
    return [verify_on_chain(chain, verifier, folder, i) for i in range(n)]


def verify_on_chain(chain: EvmChain, verifier, folder: Path, index: int) -> bool:
    """verifyProof of batch ``index`` as an eth_call: True only if it returns true."""
    try:
        cd = _batch_calldata(Path(folder), index)
    except (ValueError, ZksolvError):
        return False
    return verify_calldata(chain, verifier, cd)


def verify_calldata(chain: EvmChain, verifier, cd: ProofCalldata) -> bool:
    from eth_tester.exceptions import TransactionFailed
    from web3.exceptions import ContractLogicError

    try:
        return chain.call(verifier.functions.verifyProof(*cd.args())) is True
    except (TransactionFailed, ContractLogicError):
        return False


def evm_report(folder: Path | str) -> dict:
    """Deploy, publish and submit the whole bundle; report gas (receipt gasUsed of real
    transactions) and the registry's verdict.

    ``deploy_gas`` per contract (verifier, circomlibjs Poseidon-2, registry), ``publish_gas``
    (publishEpoch, including the on-chain acc_0 = Poseidon2(params_hash, Z)), per batch
    ``verify_proof_gas`` (a direct verifyProof transaction — the cost of verifying one batch
    on-chain) and ``submit_gas`` / ``accepted`` (the registry's submitBatch: verifier call
    plus the root and chain checks and storage), ``fully_proven``, and under ``registry``
    what a reader compares once per registry on a real chain: the code hashes of the
    verifier and Poseidon contracts, B, Z, the derived acc_0, and ``audit_ok``.
    """
    folder = Path(folder)
    manifest = read_json(folder / "manifest.json", "manifest")
    compiled = compile_bundle(folder)
    shape = registry_shape(manifest)
    chain = EvmChain()
    verifier_artefact = artefact(compiled, VERIFIER_CONTRACT)
    verifier, verifier_gas = chain.deploy(verifier_artefact)
    poseidon, poseidon_gas = deploy_poseidon2(chain)
    registry, registry_gas = deploy_registry(chain, compiled, verifier.address, poseidon.address, shape)
    pub = publication(folder, manifest)
    published = publish(chain, registry, pub)
    if published.status != 1:
        raise EvmError("publishEpoch reverted")
    batches = []
    for index in range(pub.n_batches):
        cd = _batch_calldata(folder, index)
        direct = chain.transact(verifier.functions.verifyProof(*cd.args()))
        submitted = chain.transact(submit_fn(registry, pub.epoch, index, cd))
        batches.append({"index": index, "verify_proof_gas": direct.gasUsed, "submit_gas": submitted.gasUsed,
                        "accepted": submitted.status == 1})
    # What a reader does on a real chain: compare with a fresh deployment of the audited Verifier.sol.
    audit = audit_registry(chain, registry, runtime_codehash(chain, verifier_artefact), shape,
                           expected_owner=chain.owner)
    info = chain.call(registry.functions.epochInfo(pub.epoch))
    return {
        "solc": compiled["solc"],
        "fork": chain.fork,
        "epoch": pub.epoch,
        "n_batches": pub.n_batches,
        "deploy_gas": {VERIFIER_CONTRACT: verifier_gas, POSEIDON2_CONTRACT: poseidon_gas,
                       REGISTRY_CONTRACT: registry_gas},
        "publish_gas": published.gasUsed,
        "batches": batches,
        "fully_proven": bool(chain.call(registry.functions.isFullyProven(pub.epoch))),
        "registry": {
            "batch_size": shape.batch_size,
            "zero_totals_commitment": str(shape.zero_totals_commitment),
            "acc_0": str(info[2]),
            "verifier_codehash": audit["registry"]["verifier_codehash"],
            "poseidon2_codehash": audit["registry"]["poseidon2_codehash"],
            "circomlibjs": poseidon2_artefact()["circomlibjs"],
            "audit_ok": audit["ok"],
        },
    }
