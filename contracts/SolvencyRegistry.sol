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

/// circomlib's Poseidon with 8 inputs (the width of HashChain8, PROTOCOL §5). circomlibjs 0.1.7's
/// createCode(8) throws (its stack-based mix needs 20 stack slots), so this is the bytecode
/// zksolv/js/poseidon_contract.js generates for n = 8 with circomlibjs's assembler and constants:
/// the same function (tests/test_evm.py compares it with zksolv.poseidon and circomlibjs),
/// selectors poseidon(uint256[8]) and poseidon(bytes32[8]); it too reduces its inputs mod r.
interface IPoseidon8 {
    function poseidon(uint256[8] calldata inputs) external pure returns (uint256);
}

/// @title zksolv solvency registry (statement format 4)
/// @notice One registry per circuit shape SolvencyBatch(K, M, B, TIERS) and audited
/// verification key. The venue (owner) publishes one epoch's claim; anyone then
/// submits the batch proofs of the bundle and the opening of the final accumulator.
///
/// WHAT isFullyProvenAndOpened(epoch) GUARANTEES ON-CHAIN, BY ITSELF (given the immutables
/// below, which a reader checks once per registry):
///   1. every batch 0..n-1 has a proof accepted by `verifier` (fixed at
///      construction, no setter) for public signals [batchRoots[i], accIn_i, accOut_i],
///      batchRoots[i] being exactly the root the owner registered for index i;
///   2. the accumulators link acc_0 -> accIn_0, accOut_{i-1} = accIn_i, accOut_{n-1} = accN,
///      where acc_0 = Poseidon2(paramsHash, Z) is computed HERE, by `poseidon2`, from
///      the registered paramsHash and Z = HashChain8(SHAPE, T zeros, 0), which the
///      constructor itself computed with `poseidon8` from (nAssets, nMarkets, batchSize, marketTiers).
///      No caller supplies acc_0 or Z. By the circuit (and Poseidon collision resistance),
///      acc_0 opens to (paramsHash, SHAPE, all-zero totals, blinding 0), so every batch was
///      proved under paramsHash for this shape and accN commits to the sum of all batches'
///      totals under that paramsHash;
///   3. the stored totals (openTotals) are that sum: Poseidon2(paramsHash,
///      HashChain8(SHAPE, totals, blinding)) = accN was checked HERE, with T canonical
///      totals. Hence `liquidations(epoch)` are the proved liquidation figures of all the
///      epoch's accounts: accounts below maintenance, their shortfall, bankrupt accounts,
///      their bad debt (PROTOCOL §3);
///   4. root, paramsHash, accN and the batch roots are the values the owner
///      registered, once, in field range, and can never be changed; the totals are opened once.
///
/// WHAT STAYS OFF-CHAIN (`zksolv verify` re-derives it from the bundle and compares
/// with the values stored here):
///   * paramsHash <-> params.json (PROTOCOL §5 params hash of the published prices, weights and
///     value scale S). So the units of the figures (S) and the insurance-fund comparison
///     (bad debt <= params.json's insurance_fund) are off-chain too;
///   * the batch roots hash to `root` (a Poseidon tree: too expensive here), and
///     nBatches * batchSize is the published capacity.
///
/// WHAT A READER CHECKS ONCE PER REGISTRY (`zksolv.evm.audit_registry` does it):
///   * keccak256 of `verifier`'s runtime code = that of the audited key's
///     Verifier.sol compiled with the pinned solc settings (zksolv/js/compile_solidity.js:
///     solc 0.8.37, optimizer 200 runs, evmVersion cancun). The snarkjs template has no
///     SELFDESTRUCT, DELEGATECALL or storage, so that code is all it does;
///   * (nAssets, nMarkets, batchSize, marketTiers) = the audited circuit's (K, M, B, TIERS packed):
///     SHAPE, T and Z follow on-chain (`zksolv.statement.zero_totals_commitment(K, M, B, TIERS)` gives
///     the same Z);
///   * `poseidon2`'s and `poseidon8`'s code: enforced by the constructor, whose codehash checks
///     against POSEIDON2_CODEHASH / POSEIDON8_CODEHASH pin zksolv/js/poseidon_contract.js's
///     output for n = 2 (circomlibjs 0.1.7's createCode(2)) and n = 8 (tests/test_evm.py
///     checks both against circomlibjs and zksolv.poseidon);
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
    /// keccak256 of the runtime code zksolv/js/poseidon_contract.js generates for 8 inputs.
    bytes32 public constant POSEIDON8_CODEHASH = 0x11b158e039cece2ef1729798721a4ebf97674869d99e3fd29f4930b94c73555c;

    /// The four liquidation figures close the totals vector (PROTOCOL §5): index T-4 .. T-1.
    uint256 internal constant N_LIQUIDATION_FIGURES = 4;

    struct Epoch {
        uint256 root;        // Poseidon root of all accounts (checked off-chain against the batch roots)
        uint256 paramsHash;  // PROTOCOL §5 params hash (checked off-chain against params.json)
        uint256 acc0;        // Poseidon2(paramsHash, Z), computed on-chain at publication
        uint256 accN;        // final accumulator, opened on-chain by openTotals
        uint24 nBatches;
        uint24 rootsPublished;
        uint24 proven;
        bool chainBroken;
        bool opened;         // openTotals succeeded: _totals[epoch] holds the T totals accN opens to
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
    /// circomlib Poseidon with 8 inputs (code pinned by POSEIDON8_CODEHASH), for HashChain8.
    IPoseidon8 public immutable poseidon8;
    /// K: assets of the shape.
    uint256 public immutable nAssets;
    /// M: markets of the shape.
    uint256 public immutable nMarkets;
    /// B: accounts per batch of the shape (an epoch's capacity is nBatches * batchSize).
    uint256 public immutable batchSize;
    /// The maintenance brackets per market, packed: sum_m (TIERS_m - 1) 32^m (0: every market flat).
    uint256 public immutable marketTiers;
    /// S: price scenarios of the shape (PROTOCOL §3.3; 0: none).
    uint256 public immutable nScenarios;
    /// Shape(K, M, B, TIERS, S) = K + 2^16 M + 2^32 B + 2^64 marketTiers + 2^240 S (PROTOCOL §5), the
    /// first value of every totals commitment.
    uint256 public immutable SHAPE;
    /// T = 2(K + M) + 4 + 4S: credit_0, debit_0, ..., long_0, short_0, ..., the 4 liquidation figures,
    /// then the same 4 figures for each scenario (the stress report).
    uint256 public immutable TOTALS_LENGTH;
    /// Z = HashChain8(SHAPE, T zero totals, zero blinding), computed by the constructor:
    /// acc_0 = Poseidon2(paramsHash, Z).
    uint256 public immutable zeroTotalsCommitment;

    mapping(uint64 => Epoch) private _epochs;
    mapping(uint64 => mapping(uint256 => uint256)) private _batchRoots;
    mapping(uint64 => mapping(uint256 => BatchRecord)) private _records;
    mapping(uint64 => mapping(uint256 => uint256)) private _provenBits; // bitmap: batch index -> proven
    mapping(uint64 => uint256[]) private _totals;

    event RegistryCreated(address indexed owner, address verifier, address poseidon2, address poseidon8,
                          uint256 nAssets, uint256 nMarkets, uint256 batchSize, uint256 marketTiers,
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
    /// accN was opened on-chain: the stored totals end with these figures (units: see `liquidations`).
    event TotalsOpened(uint64 indexed epoch, uint256 accountsBelowMaintenance, uint256 shortfall,
                       uint256 bankruptAccounts, uint256 badDebt);

    error NotOwner();
    error VerifierHasNoCode(address verifier);
    error WrongPoseidonCode(address poseidon2, bytes32 codehash);
    error WrongPoseidon8Code(address poseidon8, bytes32 codehash);
    error ZeroBatchSize();
    error ShapeOutOfRange(uint256 nAssets, uint256 nMarkets, uint256 batchSize, uint256 marketTiers);
    error TooManyScenarios(uint256 nScenarios);
    error ScenarioOutOfRange(uint256 scenario, uint256 nScenarios);
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
    error WrongTotalsLength(uint256 expected, uint256 given);
    error WrongOpening(uint64 epoch, uint256 accN, uint256 computed);
    error TotalsAlreadyOpened(uint64 epoch);
    error TotalsNotOpened(uint64 epoch);
    error EmptyHashChain();

    /// @param verifier_ the audited key's Groth16Verifier; fixed for the registry's life.
    /// @param poseidon2_ a deployment of the circomlibjs Poseidon-2 bytecode.
    /// @param poseidon8_ a deployment of zksolv's Poseidon-8 bytecode (zksolv/js/poseidon_contract.js 8).
    /// @param nAssets_ K of the circuit shape SolvencyBatch(K, M, B), 0 < K < 2^16.
    /// @param nMarkets_ M of the shape, M < 2^16.
    /// @param batchSize_ B of the shape, 0 < B < 2^31 (the ranges of `zksolv.statement.circuit_shape`).
    /// @param marketTiers_ sum_m (TIERS_m - 1) 32^m, 5 bits per market, below 2^160.
    /// @param nScenarios_ S of the shape, below 2^12.
    constructor(address verifier_, address poseidon2_, address poseidon8_, uint256 nAssets_, uint256 nMarkets_,
                uint256 batchSize_, uint256 marketTiers_, uint256 nScenarios_) {
        // A verifier address without code would make every call fail; catch the typo here.
        if (verifier_.code.length == 0) revert VerifierHasNoCode(verifier_);
        // Stops a look-alike hash from deriving acc_0 (or Z, or an opening): only the pinned Poseidon codes.
        if (poseidon2_.codehash != POSEIDON2_CODEHASH) revert WrongPoseidonCode(poseidon2_, poseidon2_.codehash);
        if (poseidon8_.codehash != POSEIDON8_CODEHASH) revert WrongPoseidon8Code(poseidon8_, poseidon8_.codehash);
        if (batchSize_ == 0) revert ZeroBatchSize();
        // The circuit's ranges: keeps Shape(K, M, B, TIERS) an injective encoding, and no bracket
        // count for a market the shape does not have.
        if (nAssets_ == 0 || nAssets_ >= 1 << 16 || nMarkets_ >= 1 << 16 || batchSize_ >= 1 << 31
            || marketTiers_ >= 1 << 160 || (nMarkets_ < 32 && marketTiers_ >> (5 * nMarkets_) != 0)) {
            revert ShapeOutOfRange(nAssets_, nMarkets_, batchSize_, marketTiers_);
        }
        if (nScenarios_ >= 1 << 12) revert TooManyScenarios(nScenarios_);
        uint256 shape = nAssets_ + (nMarkets_ << 16) + (batchSize_ << 32) + (marketTiers_ << 64)
            + (nScenarios_ << 240);
        uint256 t = 2 * (nAssets_ + nMarkets_) + N_LIQUIDATION_FIGURES * (1 + nScenarios_);
        // Z from the shape alone: no per-shape constant is taken on trust.
        uint256[] memory zero = new uint256[](t + 2);
        zero[0] = shape;
        uint256 z = _hashChain8(IPoseidon8(poseidon8_), zero);
        owner = msg.sender;
        verifier = IGroth16Verifier(verifier_);
        poseidon2 = IPoseidon2(poseidon2_);
        poseidon8 = IPoseidon8(poseidon8_);
        nAssets = nAssets_;
        nMarkets = nMarkets_;
        batchSize = batchSize_;
        marketTiers = marketTiers_;
        nScenarios = nScenarios_;
        SHAPE = shape;
        TOTALS_LENGTH = t;
        zeroTotalsCommitment = z;
        emit RegistryCreated(msg.sender, verifier_, poseidon2_, poseidon8_, nAssets_, nMarkets_, batchSize_,
                             marketTiers_, z);
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
        // maintenance or counted below it, its leaves hash to batchRoot, and acc_out = acc_in + this
        // batch's totals under the same params. Stops any statement the circuit does not prove
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

    /// @notice Open the epoch's final accumulator on-chain (anyone may: the opening is public, in the
    /// bundle's manifest as final_accumulator.totals and .blinding). Requires
    /// Poseidon2(paramsHash, HashChain8(SHAPE, totals..., blinding)) == accN, then stores the totals
    /// once. Independent of the proofs: the figures are proved only once isFullyProven(epoch) holds
    /// too (isFullyProvenAndOpened).
    /// @param totals_ the T totals in accumulator order (PROTOCOL §5), each < r.
    /// @param blinding the final blinding, < r.
    function openTotals(uint64 epoch, uint256[] calldata totals_, uint256 blinding) external {
        Epoch storage e = _epochs[epoch];
        if (e.nBatches == 0) revert EpochNotPublished(epoch);
        // Opened once: by Poseidon's collision resistance no other vector could open accN anyway.
        if (e.opened) revert TotalsAlreadyOpened(epoch);
        // The length is the shape's: HashChain8 pads with zeros, so a shorter vector padded to the
        // same chunks would otherwise hash alike; the index of each figure depends on it too.
        uint256 t = TOTALS_LENGTH;
        if (totals_.length != t) revert WrongTotalsLength(t, totals_.length);
        uint256[] memory values = new uint256[](t + 2);
        values[0] = SHAPE;
        for (uint256 i = 0; i < t; ++i) {
            uint256 v = totals_[i];
            // Canonical only: Poseidon reduces mod R, so v + R would open accN as well while
            // meaning another integer.
            if (v >= R) revert NotAFieldElement(v);
            values[1 + i] = v;
        }
        if (blinding >= R) revert NotAFieldElement(blinding);
        values[t + 1] = blinding;
        uint256 computed = poseidon2.poseidon([e.paramsHash, _hashChain8(poseidon8, values)]);
        if (computed != e.accN) revert WrongOpening(epoch, e.accN, computed);
        _totals[epoch] = totals_;
        e.opened = true;
        uint256 l = 2 * (nAssets + nMarkets);
        emit TotalsOpened(epoch, totals_[l], totals_[l + 1], totals_[l + 2], totals_[l + 3]);
    }

    /// HashChain8 (PROTOCOL §5): `values` padded with zeros to 8 + 7k, h = Poseidon8(x_1..x_8),
    /// then h = Poseidon8(h, next 7) per chunk. The caller passes the Poseidon-8 contract (the
    /// constructor cannot read its own immutables yet); `pure` as IPoseidon8 is (a STATICCALL).
    function _hashChain8(IPoseidon8 p8, uint256[] memory values) private pure returns (uint256 h) {
        uint256 n = values.length;
        uint256[8] memory chunk;
        for (uint256 j = 0; j < 8; ++j) chunk[j] = j < n ? values[j] : 0;
        h = p8.poseidon(chunk);
        for (uint256 start = 8; start < n; start += 7) {
            chunk[0] = h;
            for (uint256 j = 0; j < 7; ++j) chunk[1 + j] = start + j < n ? values[start + j] : 0;
            h = p8.poseidon(chunk);
        }
    }

    /// @notice HashChain8 of any canonical values (the on-chain twin of zksolv.poseidon.hash_chain8).
    function hashChain8(uint256[] calldata values) external view returns (uint256) {
        if (values.length == 0) revert EmptyHashChain();
        for (uint256 i = 0; i < values.length; ++i) {
            if (values[i] >= R) revert NotAFieldElement(values[i]);
        }
        return _hashChain8(poseidon8, values);
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
        return _isFullyProven(_epochs[epoch]);
    }

    function _isFullyProven(Epoch storage e) private view returns (bool) {
        return e.nBatches != 0 && e.proven == e.nBatches && !e.chainBroken;
    }

    /// @notice True iff accN has been opened on-chain (openTotals): totals() and liquidations() are readable.
    function isOpened(uint64 epoch) external view returns (bool) {
        return _epochs[epoch].opened;
    }

    /// @notice The one flag for an on-chain consumer: fully proven AND opened, i.e. `liquidations(epoch)`
    /// are the proved figures of every account of the epoch under the registered paramsHash (the
    /// insurance-fund comparison stays off-chain: see the contract header).
    function isFullyProvenAndOpened(uint64 epoch) external view returns (bool) {
        Epoch storage e = _epochs[epoch];
        return e.opened && _isFullyProven(e);
    }

    /// @notice The T opened totals in accumulator order (PROTOCOL §5): credit, debit per asset, long,
    /// short per market (each in 10^-decimals of its asset or market, as params.json declares), then the
    /// 4 liquidation figures (units: see `liquidations`). Reverts unless opened.
    function totals(uint64 epoch) external view returns (uint256[] memory) {
        if (!_epochs[epoch].opened) revert TotalsNotOpened(epoch);
        return _totals[epoch];
    }

    /// @notice The opened liquidation figures (PROTOCOL §3). Reverts unless opened; they are proved only
    /// if isFullyProven(epoch) too (read isFullyProvenAndOpened). S is the bundle's value scale, fixed by
    /// params.json (committed by paramsHash, checked off-chain), so the units are:
    /// @return accountsBelowMaintenance accounts whose maintenance health is negative (a count);
    /// @return shortfall the sum of their -health, in 10^-(S+4) quote (health units);
    /// @return bankruptAccounts accounts whose equity is negative (a count);
    /// @return badDebt the sum of their -equity, in 10^-S quote. Whether the insurance fund covers it
    /// is compared off-chain (params.json's insurance_fund; `zksolv verify`).
    function liquidations(uint64 epoch) external view returns (
        uint256 accountsBelowMaintenance, uint256 shortfall, uint256 bankruptAccounts, uint256 badDebt
    ) {
        return _figures(epoch, 0);
    }

    /// @notice The liquidation figures of scenario `scenario` (0-based, params.json order) after
    /// openTotals: what the stress report proves for that scenario (units as `liquidations`).
    function stress(uint64 epoch, uint256 scenario) external view returns (
        uint256 accountsBelowMaintenance, uint256 shortfall, uint256 bankruptAccounts, uint256 badDebt
    ) {
        if (scenario >= nScenarios) revert ScenarioOutOfRange(scenario, nScenarios);
        return _figures(epoch, 1 + scenario);
    }

    function _figures(uint64 epoch, uint256 group) private view returns (uint256, uint256, uint256, uint256) {
        if (!_epochs[epoch].opened) revert TotalsNotOpened(epoch);
        uint256[] storage v = _totals[epoch];
        uint256 l = 2 * (nAssets + nMarkets) + N_LIQUIDATION_FIGURES * group;
        return (v[l], v[l + 1], v[l + 2], v[l + 3]);
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
