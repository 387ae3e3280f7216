// SPDX-License-Identifier: GPL-3.0-or-later
pragma solidity ^0.8.24;

/// The Groth16 verifier that snarkjs generates for a zksolv batch circuit
/// (`Verifier.sol` of a proof bundle, contract `Groth16Verifier`). Public
/// signals in circuit order: [batch_root, acc_in, acc_out] (docs/PROTOCOL.md §6).
/// `b` is in EVM order: each G2 coordinate as (c1, c0).
interface IGroth16Verifier {
    function verifyProof(
        uint256[2] calldata a,
        uint256[2][2] calldata b,
        uint256[2] calldata c,
        uint256[3] calldata pubSignals
    ) external view returns (bool);
}

/// circomlib's Poseidon with 2 inputs, as deployed from the bytecode circomlibjs
/// 0.1.7 generates (`poseidonContract.createCode(2)`; zksolv/js/poseidon_contract.js).
/// Inputs are reduced mod r by that code, so the registry passes only canonical ones.
interface IPoseidon2 {
    function poseidon(uint256[2] calldata inputs) external pure returns (uint256);
}

/// @title zksolv solvency registry (statement format 2)
/// @notice One registry per circuit shape SolvencyBatch(K, M, B) and audited
/// verification key. The venue (owner) publishes one epoch's claim; anyone then
/// submits the batch proofs of the bundle.
///
/// WHAT isFullyProven(epoch) GUARANTEES ON-CHAIN, BY ITSELF (given the immutables
/// below, which a reader checks once per registry):
///   1. every batch 0..n-1 has a proof accepted by `verifier` (fixed at
///      construction, no setter) for public signals [batchRoots[i], accIn_i, accOut_i],
///      batchRoots[i] being exactly the root the owner registered for index i;
///   2. the accumulators link acc_0 -> accIn_0, accOut_{i-1} = accIn_i, accOut_{n-1} = accN,
///      where acc_0 = Poseidon2(paramsHash, Z) is computed HERE, by `poseidon2`, from
///      the registered paramsHash and the shape constant Z = zeroTotalsCommitment.
///      No caller supplies acc_0. By the circuit (and Poseidon collision resistance),
///      acc_0 opens to (paramsHash, Shape(K, M, B), all-zero totals, blinding 0), so
///      every batch was proved under paramsHash for this shape and accN commits to the
///      sum of all batches' totals under that paramsHash;
///   3. root, paramsHash, accN and the batch roots are the values the owner
///      registered, once, in field range, and can never be changed.
///
/// WHAT STAYS OFF-CHAIN (`zksolv verify` re-derives it from the bundle and compares
/// with the values stored here):
///   * paramsHash <-> params.json (PROTOCOL §5 params hash of the published prices);
///   * the batch roots hash to `root` (a Poseidon tree: too expensive here), and
///     nBatches * batchSize is the published capacity;
///   * the opening of accN by the published totals and final blinding.
///
/// WHAT A READER CHECKS ONCE PER REGISTRY (`zksolv.evm.audit_registry` does it):
///   * keccak256 of `verifier`'s runtime code = that of the audited key's
///     Verifier.sol compiled with the pinned solc settings (zksolv/js/compile_solidity.js:
///     solc 0.8.37, optimizer 200 runs, evmVersion cancun). The snarkjs template has no
///     SELFDESTRUCT, DELEGATECALL or storage, so that code is all it does;
///   * zeroTotalsCommitment = Z = HashChain(Shape(K, M, B), 0, ..., 0) with 2(K+M) zero totals
///     and a zero blinding, Shape = K + 2^16 M + 2^32 B (PROTOCOL §5;
///     `zksolv.witness.zero_totals_commitment(K, M, B)`), and batchSize = B;
///   * `poseidon2`'s code: enforced by the constructor, whose codehash must equal
///     POSEIDON2_CODEHASH (the circomlibjs 0.1.7 bytecode; tests/test_evm.py checks it
///     against circomlibjs and zksolv.poseidon);
///   * this contract's own runtime code against this source (standard source
///     verification: the immutables are the only parts that differ).
///
/// Design: the batch roots are stored in full (one word per batch), not as a
/// Merkle root. The top tree over batch roots is a Poseidon tree, which the
/// registry cannot check cheaply; a second keccak tree would be a new format
/// every verifier must re-derive. Storing the roots costs the venue ~22k gas
/// per batch, once, and makes each submission a single comparison. Large
/// epochs publish their roots in several transactions (appendBatchRoots).
///
/// The chain is checked incrementally: each of the n+1 links (acc_0 -> in(0),
/// out(i-1) -> in(i), out(n-1) -> acc_n) is checked exactly once, by the
/// submission that records its second end. So submissions may arrive in any
/// order, each costs O(1), and one broken link marks the epoch for good.
contract SolvencyRegistry {
    /// BN254 scalar field (the circuit's field; Groth16 public signals and Poseidon values are < R).
    uint256 internal constant R = 21888242871839275222246405745257275088548364400416034343698204186575808495617;

    /// keccak256 of the runtime code of circomlibjs 0.1.7 `poseidonContract.createCode(2)`.
    bytes32 public constant POSEIDON2_CODEHASH = 0x354b26999e434f8256d168395315e1f51fc15bf49bf2e6bb58fc549bd597e7da;

    struct Epoch {
        uint256 root;        // Poseidon root of all accounts (checked off-chain against the batch roots)
        uint256 paramsHash;  // PROTOCOL §5 params hash (checked off-chain against params.json)
        uint256 acc0;        // Poseidon2(paramsHash, Z), computed on-chain at publication
        uint256 accN;        // final accumulator, opened off-chain by the published totals
        uint24 nBatches;
        uint24 rootsPublished;
        uint24 proven;
        bool chainBroken;
    }

    struct BatchRecord {
        uint256 accIn;
        uint256 accOut;
    }

    address public immutable owner;
    /// Groth16 verifier of the one audited key of this registry's circuit shape.
    IGroth16Verifier public immutable verifier;
    /// circomlib Poseidon with 2 inputs (code pinned by POSEIDON2_CODEHASH).
    IPoseidon2 public immutable poseidon2;
    /// B: accounts per batch of the shape (an epoch's capacity is nBatches * batchSize).
    uint256 public immutable batchSize;
    /// Z = HashChain(Shape(K, M, B), 2(K+M) zero totals, zero blinding): acc_0 = Poseidon2(paramsHash, Z).
    uint256 public immutable zeroTotalsCommitment;

    mapping(uint64 => Epoch) private _epochs;
    mapping(uint64 => mapping(uint256 => uint256)) private _batchRoots;
    mapping(uint64 => mapping(uint256 => BatchRecord)) private _records;
    mapping(uint64 => mapping(uint256 => uint256)) private _provenBits; // bitmap: batch index -> proven

    event RegistryCreated(address indexed owner, address verifier, address poseidon2, uint256 batchSize,
                          uint256 zeroTotalsCommitment);
    event EpochPublished(uint64 indexed epoch, uint256 root, uint256 paramsHash, uint256 acc0, uint256 accN,
                         uint256 nBatches);
    event BatchRootsPublished(uint64 indexed epoch, uint256 firstIndex, uint256 count);
    event BatchAccepted(uint64 indexed epoch, uint256 indexed index, uint256 batchRoot, uint256 accIn,
                        uint256 accOut, address submitter);
    /// A link of the accumulator chain does not hold: `index` is the batch whose
    /// acc_in differs from what precedes it (index == nBatches: acc_out(n-1) != acc_n).
    event ChainBroken(uint64 indexed epoch, uint256 index);
    event EpochFullyProven(uint64 indexed epoch, uint256 root, uint256 accN);

    error NotOwner();
    error VerifierHasNoCode(address verifier);
    error WrongPoseidonCode(address poseidon2, bytes32 codehash);
    error ZeroBatchSize();
    error NotAFieldElement(uint256 value);
    error EpochAlreadyPublished(uint64 epoch);
    error EpochNotPublished(uint64 epoch);
    error NoBatches();
    error TooManyBatches(uint256 nBatches);
    error TooManyBatchRoots(uint256 published, uint256 nBatches);
    error IndexOutOfRange(uint256 index, uint256 nBatches);
    error BatchRootNotPublished(uint256 index);
    error BatchAlreadyProven(uint64 epoch, uint256 index);
    error WrongBatchRoot(uint256 index, uint256 expected, uint256 given);
    error InvalidProof(uint64 epoch, uint256 index);

    /// @param verifier_ the audited key's Groth16Verifier; fixed for the registry's life.
    /// @param poseidon2_ a deployment of the circomlibjs Poseidon-2 bytecode.
    /// @param batchSize_ B of the circuit shape.
    /// @param zeroTotalsCommitment_ Z of the circuit shape (`zksolv.witness.zero_totals_commitment(K, M, B)`).
    constructor(address verifier_, address poseidon2_, uint256 batchSize_, uint256 zeroTotalsCommitment_) {
        // A verifier address without code would make every call fail; catch the typo here.
        if (verifier_.code.length == 0) revert VerifierHasNoCode(verifier_);
        // Stops a look-alike hash from deriving acc_0: only circomlibjs's Poseidon code is accepted.
        if (poseidon2_.codehash != POSEIDON2_CODEHASH) revert WrongPoseidonCode(poseidon2_, poseidon2_.codehash);
        if (batchSize_ == 0) revert ZeroBatchSize();
        // Poseidon reduces its inputs mod R: a non-canonical Z would be an alias, never a new shape.
        if (zeroTotalsCommitment_ >= R) revert NotAFieldElement(zeroTotalsCommitment_);
        owner = msg.sender;
        verifier = IGroth16Verifier(verifier_);
        poseidon2 = IPoseidon2(poseidon2_);
        batchSize = batchSize_;
        zeroTotalsCommitment = zeroTotalsCommitment_;
        emit RegistryCreated(msg.sender, verifier_, poseidon2_, batchSize_, zeroTotalsCommitment_);
    }

    /// @notice Publish an epoch's claim (and the first batch roots; the rest via appendBatchRoots).
    /// acc_0 is not an argument: the registry derives it as Poseidon2(paramsHash, Z).
    /// @param epoch Unix seconds of params.json's epoch; an epoch is published once and never changed.
    function publishEpoch(
        uint64 epoch,
        uint256 root,
        uint256 paramsHash,
        uint256 accN,
        uint256 nBatches,
        uint256[] calldata batchRoots
    ) external {
        // Only the venue speaks for the venue: stops anyone else from publishing a claim in its name.
        if (msg.sender != owner) revert NotOwner();
        // Immutable history: stops the venue from swapping a claim after proofs (or criticism) arrived.
        if (_epochs[epoch].nBatches != 0) revert EpochAlreadyPublished(epoch);
        // An epoch with no batches would be "fully proven" by nothing.
        if (nBatches == 0) revert NoBatches();
        if (nBatches > type(uint24).max) revert TooManyBatches(nBatches);
        // Canonical values only: paramsHash + R would derive the same acc_0 as paramsHash (Poseidon
        // reduces mod R) yet differ from params.json's hash as an integer; root and accN >= R could
        // never be matched by a proof.
        if (root >= R) revert NotAFieldElement(root);
        if (paramsHash >= R) revert NotAFieldElement(paramsHash);
        if (accN >= R) revert NotAFieldElement(accN);
        // acc_0 from what is registered: stops a chain that starts anywhere but at
        // (paramsHash, zero totals, zero blinding) -- e.g. one that starts with made-up totals.
        uint256 acc0 = poseidon2.poseidon([paramsHash, zeroTotalsCommitment]);
        Epoch storage e = _epochs[epoch];
        e.root = root;
        e.paramsHash = paramsHash;
        e.acc0 = acc0;
        e.accN = accN;
        e.nBatches = uint24(nBatches);
        emit EpochPublished(epoch, root, paramsHash, acc0, accN, nBatches);
        _appendRoots(epoch, e, batchRoots);
    }

    /// @notice Publish further batch roots of an epoch, in index order.
    function appendBatchRoots(uint64 epoch, uint256[] calldata batchRoots) external {
        if (msg.sender != owner) revert NotOwner();
        Epoch storage e = _epochs[epoch];
        if (e.nBatches == 0) revert EpochNotPublished(epoch);
        _appendRoots(epoch, e, batchRoots);
    }

    function _appendRoots(uint64 epoch, Epoch storage e, uint256[] calldata batchRoots) private {
        uint256 first = e.rootsPublished;
        // Roots are append-only and at most n: a published root can never be replaced.
        if (first + batchRoots.length > e.nBatches) revert TooManyBatchRoots(first + batchRoots.length, e.nBatches);
        for (uint256 k = 0; k < batchRoots.length; ++k) {
            uint256 batchRoot = batchRoots[k];
            // A root >= R could never be proven (the verifier rejects such signals): refuse it now.
            if (batchRoot >= R) revert NotAFieldElement(batchRoot);
            _batchRoots[epoch][first + k] = batchRoot;
        }
        e.rootsPublished = uint24(first + batchRoots.length);
        if (batchRoots.length != 0) emit BatchRootsPublished(epoch, first, batchRoots.length);
    }

    /// @notice Submit the proof of batch `index` (anyone may; the venue usually does).
    /// @dev a, b, c exactly as snarkjs's soliditycalldata (b in (c1, c0) order).
    function submitBatch(
        uint64 epoch,
        uint256 index,
        uint256 batchRoot,
        uint256 accIn,
        uint256 accOut,
        uint256[2] calldata a,
        uint256[2][2] calldata b,
        uint256[2] calldata c
    ) external {
        Epoch storage e = _epochs[epoch];
        uint256 n = e.nBatches;
        // Proofs only count against a claim the venue made.
        if (n == 0) revert EpochNotPublished(epoch);
        // Stops proofs for indices outside the claim from being counted.
        if (index >= n) revert IndexOutOfRange(index, n);
        if (index >= e.rootsPublished) revert BatchRootNotPublished(index);
        // First valid proof wins: stops a later submission from replacing a recorded
        // accumulator (and so from repairing or breaking the chain after the fact).
        if (_isProven(epoch, index)) revert BatchAlreadyProven(epoch, index);
        // Stops a valid proof of some other set of accounts (another epoch, another
        // venue, a made-up batch) from standing in for the published batch `index`.
        uint256 expected = _batchRoots[epoch][index];
        if (batchRoot != expected) revert WrongBatchRoot(index, expected, batchRoot);
        // The proof, by the pinned verifier only: every account of this batch is above
        // maintenance, its leaves hash to batchRoot, and acc_out = acc_in + this batch's
        // totals under the same params. Stops any statement the circuit does not prove
        // (the verifier also rejects public signals >= R, i.e. aliases of the same field element).
        if (!verifier.verifyProof(a, b, c, [batchRoot, accIn, accOut])) revert InvalidProof(epoch, index);

        _provenBits[epoch][index >> 8] |= 1 << (index & 0xff);
        _records[epoch][index] = BatchRecord(accIn, accOut);
        emit BatchAccepted(epoch, index, batchRoot, accIn, accOut, msg.sender);

        // Chain links ending at this batch. Together they stop batches proved from
        // other params (acc_0 binds the params hash), proved twice, left out, or
        // reordered from adding up to the published final totals acc_n.
        bool broken = e.chainBroken;
        if (index == 0) {
            if (accIn != e.acc0) broken = _brokenAt(epoch, 0);
        } else if (_isProven(epoch, index - 1) && _records[epoch][index - 1].accOut != accIn) {
            broken = _brokenAt(epoch, index);
        }
        if (index == n - 1) {
            if (accOut != e.accN) broken = _brokenAt(epoch, n);
        } else if (_isProven(epoch, index + 1) && _records[epoch][index + 1].accIn != accOut) {
            broken = _brokenAt(epoch, index + 1);
        }
        if (broken && !e.chainBroken) e.chainBroken = true;

        uint256 proven = uint256(e.proven) + 1;
        e.proven = uint24(proven);
        // Every link was checked when its second end arrived; with all n batches in
        // and none broken, the whole chain acc_0 -> ... -> acc_n holds.
        if (proven == n && !broken) emit EpochFullyProven(epoch, e.root, e.accN);
    }

    function _brokenAt(uint64 epoch, uint256 index) private returns (bool) {
        emit ChainBroken(epoch, index);
        return true;
    }

    function _isProven(uint64 epoch, uint256 index) private view returns (bool) {
        return _provenBits[epoch][index >> 8] & (1 << (index & 0xff)) != 0;
    }

    /// @notice True iff every batch has a proof accepted by the pinned verifier for its
    /// registered batch root and the accumulator chain links Poseidon2(paramsHash, Z) to accN
    /// (see the contract header for what this does and does not establish by itself).
    function isFullyProven(uint64 epoch) external view returns (bool) {
        Epoch storage e = _epochs[epoch];
        return e.nBatches != 0 && e.proven == e.nBatches && !e.chainBroken;
    }

    function epochInfo(uint64 epoch) external view returns (
        uint256 root, uint256 paramsHash, uint256 acc0, uint256 accN, uint256 nBatches, uint256 rootsPublished,
        uint256 proven, bool chainBroken
    ) {
        Epoch storage e = _epochs[epoch];
        return (e.root, e.paramsHash, e.acc0, e.accN, e.nBatches, e.rootsPublished, e.proven, e.chainBroken);
    }

    function publishedBatchRoot(uint64 epoch, uint256 index) external view returns (uint256) {
        return _batchRoots[epoch][index];
    }

    /// @return proven whether batch `index` has a recorded proof, and its accumulators if so.
    function batchRecord(uint64 epoch, uint256 index) external view returns (bool proven, uint256 accIn,
                                                                             uint256 accOut) {
        BatchRecord storage r = _records[epoch][index];
        return (_isProven(epoch, index), r.accIn, r.accOut);
    }
}
