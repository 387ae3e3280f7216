// EVM bytecode of circomlib's Poseidon with n inputs (1 <= n <= 8), for SolvencyRegistry: n = 2
// derives acc_0 = Poseidon2(params_hash, Z) and checks the final opening; n = 8 computes HashChain8
// (the totals commitment, and Z in the registry's constructor). The registry pins the keccak256 of
// each runtime code (POSEIDON2_CODEHASH, POSEIDON8_CODEHASH).
//
// n <= 6: exactly circomlibjs's `poseidonContract.createCode(n)` (hand-assembled, no Solidity
// source; selectors poseidon(uint256[n]) and poseidon(bytes32[n])).
//
// n = 7, 8: circomlibjs 0.1.7's createCode accepts them but throws ("Assertion failed" in DUP):
// its mix step keeps the old and the new state on the stack, 2t + 2 > 16 slots for t = n + 1 >= 8.
// `createWideCode` below is the same generator (circomlibjs's assembler, constants, selectors,
// calldata layout, state order and output) with two changes, each an exact rewrite:
//   * mix keeps the old state on the stack and writes the new one to memory (at most 13 slots),
//     and reduces its sums of products mod q every 4 summands (4q < 2^256) instead of each;
//   * partial-round constants are folded forward (the Poseidon paper's appendix B, first step;
//     zksolv/poseidon.py derives the same): in a partial round the S-box touches only s[0], so
//     the other components of its round constant commute with it and are added, through the MDS
//     matrix, to the next round's constant. Each partial round then adds one constant to s[0] and
//     the first full round of the second half adds the carried rest. Without this, 639 PUSH32
//     round constants alone (t = 9) would exceed the EIP-170 code-size limit of 24,576 bytes.
// Same function, other code: tests/test_evm.py compares it with zksolv.poseidon and circomlibjs's
// own Poseidon on edge and random inputs.
//
// Usage: node poseidon_contract.js [n]   (n defaults to 2)
// Prints {"circomlibjs": version, "n_inputs": n, "generator": "...", "bytecode": "0x<init code>"}.
const fs = require("fs");
const path = require("path");

const modules = process.env.ZKSOLV_NODE_MODULES || path.join(__dirname, "..", "..", "node_modules");
const circomlibjs = require(path.join(modules, "circomlibjs"));
const { ethers } = require(path.join(modules, "ethers"));
const version = JSON.parse(fs.readFileSync(path.join(modules, "circomlibjs", "package.json"), "utf8")).version;

const N_ROUNDS_F = 8;
const N_ROUNDS_P = [56, 57, 56, 60, 60, 63, 64, 63]; // circomlibjs's, for t = 2..9
const Q = 21888242871839275222246405745257275088548364400416034343698204186575808495617n;

function toHex256(a) {
    return "0x" + a.toString(16).padStart(64, "0");
}

// Round constants with the partial rounds' non-s[0] parts carried forward: k[r] is the vector a
// full round adds, or the scalar (at index 0) a partial round adds.
function foldedConstants(C, M, t, nRoundsF, nRoundsP) {
    const rounds = nRoundsF + nRoundsP;
    const out = [];
    let pending = new Array(t).fill(0n);
    for (let r = 0; r < rounds; r++) {
        const e = [];
        for (let i = 0; i < t; i++) e.push((C[r * t + i] + pending[i]) % Q);
        const full = r < nRoundsF / 2 || r >= nRoundsF / 2 + nRoundsP;
        if (full) {
            out.push(e);
            pending = new Array(t).fill(0n);
        } else {
            out.push([e[0]]);
            const rest = [0n, ...e.slice(1)];
            pending = M.map((row) => row.reduce((acc, m, j) => (acc + m * rest[j]) % Q, 0n));
        }
    }
    if (pending.some((x) => x !== 0n)) throw new Error("the last round must be a full one");
    return out;
}

function createWideCode(nInputs, constants) {
    const t = nInputs + 1;
    const nRoundsF = N_ROUNDS_F;
    const nRoundsP = N_ROUNDS_P[t - 2];
    const C0 = constants.C[t - 2].map(BigInt);
    const M = constants.M[t - 2].map((row) => row.map(BigInt));
    const K = foldedConstants(C0, M, t, nRoundsF, nRoundsP);
    const stateAddress = (i) => 0x20 * (1 + i); // mem[0]: mix's return address; new state at 0x20..

    const A = new circomlibjs.evmasm();

    // Stack (top first): st[0..t-1], q.
    function ark(r) {
        for (let i = 0; i < K[r].length; i++) {
            A.dup(t);                   // q, st, q
            A.push(toHex256(K[r][i]));  // k, q, st, q
            A.dup(2 + i);               // st[i], k, q, st, q
            A.addmod();                 // st[i] + k, st, q
            A.swap(1 + i);
            A.pop();
        }
    }

    function sigma(p) { // circomlibjs's
        A.dup(t);
        A.dup(1 + p);
        A.dup(1);
        A.dup(0);
        A.dup(2);
        A.dup(0);
        A.mulmod();
        A.dup(0);
        A.mulmod();
        A.mulmod();
        A.swap(1 + p);
        A.pop();
    }

    function mix() {
        A.label("mix");
        for (let i = 0; i < t; i++) {
            // new[i] = sum_j M[i][j] st[j] mod q, with st[0..t-1], q below the accumulator. Products
            // are < q < 2^254, so up to 4 of them (or a reduced sum and 3) add up below 2^256: the sum
            // is reduced (MOD) only when a fifth summand would come, and at the end.
            let summands = 0;
            for (let j = 0; j < t; j++) {
                if (summands === 4) {
                    A.dup(1 + t);           // q, acc, st, q
                    A.swap(1);              // acc, q, st, q
                    A.mod();                // acc mod q, st, q
                    summands = 1;
                }
                A.dup(j === 0 ? t : 1 + t); // q, [acc,] st, q
                A.dup(j === 0 ? 1 + j : 2 + j); // st[j], q, [acc,] st, q
                A.push(toHex256(M[i][j]));  // m, st[j], q, [acc,] st, q
                A.mulmod();                 // p, [acc,] st, q
                if (j > 0) A.add();         // acc + p, st, q
                summands += 1;
            }
            A.dup(1 + t);
            A.swap(1);
            A.mod();                        // new[i] < q, st, q
            A.push(stateAddress(i));
            A.mstore();                     // st, q
        }
        for (let i = 0; i < t; i++) A.pop(); // q
        for (let i = t - 1; i >= 0; i--) {
            A.push(stateAddress(i));
            A.mload();                      // new[i], ..., q
        }
        A.push(0);
        A.mload();
        A.jmp();
    }

    // Check selector (circomlibjs's)
    A.push("0x0100000000000000000000000000000000000000000000000000000000");
    A.push(0);
    A.calldataload();
    A.div();
    A.dup(0);
    A.push(ethers.utils.keccak256(ethers.utils.toUtf8Bytes(`poseidon(uint256[${nInputs}])`)).slice(0, 10));
    A.eq();
    A.swap(1);
    A.push(ethers.utils.keccak256(ethers.utils.toUtf8Bytes(`poseidon(bytes32[${nInputs}])`)).slice(0, 10));
    A.eq();
    A.or();
    A.jmpi("start");
    A.invalid();

    A.label("start");
    A.push(toHex256(Q));
    for (let i = 0; i < nInputs; i++) {
        A.push(0x04 + 0x20 * (nInputs - i - 1));
        A.calldataload();
    }
    A.push(0);

    for (let r = 0; r < nRoundsF + nRoundsP; r++) {
        ark(r);
        if (r < nRoundsF / 2 || r >= nRoundsP + nRoundsF / 2) {
            for (let j = 0; j < t; j++) sigma(j);
        } else {
            sigma(0);
        }
        const label = "afterMix" + r;
        A._pushLabel(label);
        A.push(0);
        A.mstore();
        A.jmp("mix");
        A.label(label);
    }

    A.push("0x00");
    A.mstore();
    A.push("0x20");
    A.push("0x00");
    A.return();

    mix();

    if (A.code.length > 24576) throw new Error(`runtime code of ${A.code.length} bytes exceeds EIP-170`);
    return A.createTxData();
}

async function main() {
    const arg = process.argv[2] === undefined ? "2" : process.argv[2];
    if (!/^[1-8]$/.test(arg)) {
        process.stderr.write(`the number of inputs must be 1..8, got ${JSON.stringify(arg)}\n`);
        process.exit(2);
    }
    const n = Number(arg);
    let bytecode, generator;
    if (n <= 6) {
        bytecode = circomlibjs.poseidonContract.createCode(n);
        generator = "circomlibjs poseidonContract.createCode";
    } else {
        const url = "file://" + path.join(modules, "circomlibjs", "src", "poseidon_constants.js");
        const constants = (await import(url)).default;
        bytecode = createWideCode(n, constants);
        generator = "zksolv createWideCode (circomlibjs constants and assembler)";
    }
    process.stdout.write(JSON.stringify({ circomlibjs: version, n_inputs: n, generator, bytecode }) + "\n");
}

main().catch((err) => { process.stderr.write(String(err && err.stack || err) + "\n"); process.exit(1); });
