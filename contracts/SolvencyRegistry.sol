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

/// @title zksolv solvency registry
/// @notice The venue (owner) publishes one epoch's claim; anyone then submits
/// the batch proofs of the bundle. The registry says an epoch is fully proven
/// only when every batch 0..n-1 carries a valid proof for the published batch
/// root and the accumulators link acc_0 -> batch 0 -> ... -> batch n-1 -> acc_n.
///
/// What stays off-chain (Poseidon is too expensive to recompute here): that
/// acc_0 = acc(params_hash, 0…0, 0) for the published params, that the batch
/// roots hash to `root`, and that the published totals open acc_n. Every
/// off-chain verifier (`zksolv verify`) re-derives those from the bundle and
/// compares them with the values stored here, so the registry fixes *which*
/// values the venue committed to, on a timeline nobody can rewrite.
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
    struct Epoch {
        uint256 root;        // Poseidon root of all accounts (checked off-chain against the batch roots)
        uint256 paramsHash;  // PROTOCOL §5 params hash (checked off-chain against params.json)
        uint256 acc0;        // accumulator of the published params with zero totals (off-chain re-derived)
        uint256 accN;        // final accumulator, opened off-chain by the published totals
        address verifier;    // Groth16 verifier for this epoch's circuit and key
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

    mapping(uint64 => Epoch) private _epochs;
    mapping(uint64 => mapping(uint256 => uint256)) private _batchRoots;
    mapping(uint64 => mapping(uint256 => BatchRecord)) private _records;
    mapping(uint64 => mapping(uint256 => uint256)) private _provenBits; // bitmap: batch index -> proven

    event EpochPublished(uint64 indexed epoch, uint256 root, uint256 paramsHash, uint256 acc0, uint256 accN,
                         uint256 nBatches, address verifier);
    event BatchRootsPublished(uint64 indexed epoch, uint256 firstIndex, uint256 count);
    event BatchAccepted(uint64 indexed epoch, uint256 indexed index, uint256 batchRoot, uint256 accIn,
                        uint256 accOut, address submitter);
    /// A link of the accumulator chain does not hold: `index` is the batch whose
    /// acc_in differs from what precedes it (index == nBatches: acc_out(n-1) != acc_n).
    event ChainBroken(uint64 indexed epoch, uint256 index);
    event EpochFullyProven(uint64 indexed epoch, uint256 root, uint256 accN);

    error NotOwner();
    error EpochAlreadyPublished(uint64 epoch);
    error EpochNotPublished(uint64 epoch);
    error NoBatches();
    error TooManyBatches(uint256 nBatches);
    error VerifierHasNoCode(address verifier);
    error TooManyBatchRoots(uint256 published, uint256 nBatches);
    error IndexOutOfRange(uint256 index, uint256 nBatches);
    error BatchRootNotPublished(uint256 index);
    error BatchAlreadyProven(uint64 epoch, uint256 index);
    error WrongBatchRoot(uint256 index, uint256 expected, uint256 given);
    error InvalidProof(uint64 epoch, uint256 index);

    constructor() {
        owner = msg.sender;
    }

    /// @notice Publish an epoch's claim (and the first batch roots; the rest via appendBatchRoots).
    /// @param epoch Unix seconds of params.json's epoch; an epoch is published once and never changed.
    function publishEpoch(
        uint64 epoch,
        uint256 root,
        uint256 paramsHash,
        uint256 acc0,
        uint256 accN,
        uint256 nBatches,
        address verifier,
        uint256[] calldata batchRoots
    ) external {
        // Only the venue speaks for the venue: stops anyone else from publishing a claim in its name.
        if (msg.sender != owner) revert NotOwner();
        // Immutable history: stops the venue from swapping a claim after proofs (or criticism) arrived.
        if (_epochs[epoch].nBatches != 0) revert EpochAlreadyPublished(epoch);
        // An epoch with no batches would be "fully proven" by nothing.
        if (nBatches == 0) revert NoBatches();
        if (nBatches > type(uint24).max) revert TooManyBatches(nBatches);
        // A verifier address without code would make every staticcall fail; catch the typo here.
        if (verifier.code.length == 0) revert VerifierHasNoCode(verifier);
        Epoch storage e = _epochs[epoch];
        e.root = root;
        e.paramsHash = paramsHash;
        e.acc0 = acc0;
        e.accN = accN;
        e.verifier = verifier;
        e.nBatches = uint24(nBatches);
        emit EpochPublished(epoch, root, paramsHash, acc0, accN, nBatches, verifier);
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
            _batchRoots[epoch][first + k] = batchRoots[k];
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
        if (_provenBits[epoch][index >> 8] & (1 << (index & 0xff)) != 0) revert BatchAlreadyProven(epoch, index);
        // Stops a valid proof of some other set of accounts (another epoch, another
        // venue, a made-up batch) from standing in for the published batch `index`.
        uint256 expected = _batchRoots[epoch][index];
        if (batchRoot != expected) revert WrongBatchRoot(index, expected, batchRoot);
        // The proof: every account of this batch is above maintenance, its leaves hash
        // to batchRoot, and acc_out = acc_in + this batch's totals under the same params.
        // Stops any statement the circuit does not prove (the verifier also rejects
        // public signals >= r, i.e. aliases of the same field element).
        if (!IGroth16Verifier(e.verifier).verifyProof(a, b, c, [batchRoot, accIn, accOut])) {
            revert InvalidProof(epoch, index);
        }

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

    /// @notice True iff every batch has a valid proof and the accumulator chain links acc_0 to acc_n.
    function isFullyProven(uint64 epoch) external view returns (bool) {
        Epoch storage e = _epochs[epoch];
        return e.nBatches != 0 && e.proven == e.nBatches && !e.chainBroken;
    }

    function epochInfo(uint64 epoch) external view returns (
        uint256 root, uint256 paramsHash, uint256 acc0, uint256 accN, address verifier,
        uint256 nBatches, uint256 rootsPublished, uint256 proven, bool chainBroken
    ) {
        Epoch storage e = _epochs[epoch];
        return (e.root, e.paramsHash, e.acc0, e.accN, e.verifier, e.nBatches, e.rootsPublished, e.proven,
                e.chainBroken);
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
