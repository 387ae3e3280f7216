#!/usr/bin/env node
/*
 * zksolv INSECURE development Groth16 setup (BN254) -- NEVER use in production.
 *
 * Usage: node zksolv/js/devsetup.js <circuit.r1cs> <dev.ptau> <ptau.secret> <out.zkey> [name]
 *
 * Writes the proving key that `snarkjs groth16 setup` (zkey_new.js) followed
 * by one `snarkjs zkey contribute` (zkey_contribute.js) would write for this
 * r1cs and ptau, in seconds instead of minutes, because the ptau is a zksolv
 * development ptau whose tau, alpha, beta are known: they are derived from
 * <ptau.secret> (devptau.js deriveSecrets; the ptau was made from the same
 * file, and this script checks tau*G1, alpha*G1, beta*G1, beta*G2 against the
 * ptau before writing anything).  The phase-2 contribution's delta is drawn
 * here and forgotten, but tau is on disk: whoever has the secret file can
 * forge proofs.  Development and tests only.
 *
 * Every point of the key is (known scalar) * generator, computed by the
 * fixed-base windowed multiplication of devptau.js's workers (wasmcurves, the
 * code snarkjs runs, so the bytes are the Montgomery affine points snarkjs
 * writes).  With L_c(x) the Lagrange basis of the domain of size n =
 * 2^cirPower (ptau section 12, exactly as newZKey reads it) and
 * a_s, b_s, c_s = sum over constraints c of the r1cs coefficient of signal s
 * in A, B, C times L_c(tau) (plus L_{nConstraints+s}(tau) in a_s for the
 * public signals s <= nPublic, the extra constraints snarkjs adds):
 *   section 2  header: alpha1, beta1, beta2 from the ptau, gamma2 = G2,
 *              delta1 = delta*G1, delta2 = delta*G2
 *   section 3  IC_s = (beta a_s + alpha b_s + c_s) G1          (s <= nPublic; gamma = 1)
 *   section 4  the A and B coefficients of the r1cs (times R^2 mod r), in newZKey's order
 *   section 5  A_s = a_s G1,  section 6  B1_s = b_s G1,  section 7  B2_s = b_s G2
 *   section 8  L_s = (beta a_s + alpha b_s + c_s) / delta G1  (s > nPublic)
 *   section 9  H_i = L'_{2i+1}(tau) / delta G1, L' the Lagrange basis of the
 *              domain 2n as the ptau stores it (section 12; for the largest
 *              domain of the ptau `prepare phase2` replaces tau^(2n-1) by 0)
 *   section 10 circuit hash (blake2b of the initial key, as newZKey computes it,
 *              including its hash of ptau points tau^(n+i) - tau^i) and one
 *              contribution with the proof of knowledge of delta that
 *              zkey_contribute.js makes (snarkjs's own code: hashToG2,
 *              writeMPCParams), so `snarkjs zkey verify r1cs ptau zkey` passes.
 *
 * Output: the zkey is written to a temp file next to <out.zkey> and renamed
 * into place; stdout gets one JSON line (sizes, timings, hashes), no secrets.
 * Exit codes: 0 ok, 2 usage, 3 the secret does not belong to the ptau, 1 other.
 * Environment: ZKSOLV_NODE_MODULES, ZKSOLV_PTAU_THREADS (workers, default CPU
 * count), ZKSOLV_SETUP_DEBUG=1 (phase timings on stderr).
 */
"use strict";

const path = require("path");
const fs = require("fs");
const crypto = require("crypto");
const { pathToFileURL } = require("url");

const dp = require("./devptau.js");

const { R, Q, SG } = dp;
const N8 = 32;
const CHUNK = [0, 4096, 2048];          // points per worker job
const HASH_CHUNK = 1 << 14;             // newZKey's hashHPoints chunk size
const DEFAULT_NAME = "zksolv dev setup (known tau, INSECURE)";

const DEBUG = !!process.env.ZKSOLV_SETUP_DEBUG;
const T0 = Date.now();
const phases = {};
let lastMark = T0;
function mark(name) {
    const now = Date.now();
    phases[name] = (now - lastMark) / 1000;
    lastMark = now;
    if (DEBUG) process.stderr.write(`devsetup [${((now - T0) / 1000).toFixed(2)} s] ${name}\n`);
}

class SecretMismatch extends Error {}

// ---------------------------------------------------------------------------
// binary files (ptau, r1cs): "magic, u32 version, u32 n, n * (u32 id, u64 size, payload)"

function readSections(buf, magic) {
    if (buf.length < 12 || buf.toString("latin1", 0, 4) !== magic) throw new Error(`not a ${magic} file`);
    const n = buf.readUInt32LE(8);
    const sections = {};
    let pos = 12;
    for (let i = 0; i < n; i++) {
        if (pos + 12 > buf.length) throw new Error(`truncated ${magic} section table`);
        const id = buf.readUInt32LE(pos);
        const size = Number(buf.readBigUInt64LE(pos + 4));
        if (pos + 12 + size > buf.length) throw new Error(`${magic} section ${id} runs past the end`);
        if (sections[id]) throw new Error(`${magic} section ${id} is duplicated`);
        sections[id] = { p: pos + 12, size };
        pos += 12 + size;
    }
    return sections;
}

function readLE(buf, off, n) {
    let x = 0n;
    for (let i = n - 1; i >= 0; i--) x = (x << 8n) | BigInt(buf[off + i]);
    return x;
}

function writeLE32(buf, off, x) {
    // x < 2^256, 32 bytes little-endian
    buf.writeBigUInt64LE(x & 0xffffffffffffffffn, off);
    buf.writeBigUInt64LE((x >> 64n) & 0xffffffffffffffffn, off + 8);
    buf.writeBigUInt64LE((x >> 128n) & 0xffffffffffffffffn, off + 16);
    buf.writeBigUInt64LE(x >> 192n, off + 24);
}

// snarkjs misc.log2 (floor log2 of a 32-bit value)
function log2(V) {
    return (((V & 0xFFFF0000) !== 0 ? (V &= 0xFFFF0000, 16) : 0) | ((V & 0xFF00FF00) !== 0 ? (V &= 0xFF00FF00, 8) : 0) |
        ((V & 0xF0F0F0F0) !== 0 ? (V &= 0xF0F0F0F0, 4) : 0) | ((V & 0xCCCCCCCC) !== 0 ? (V &= 0xCCCCCCCC, 2) : 0) |
        ((V & 0xAAAAAAAA) !== 0 ? 1 : 0));
}

// ---------------------------------------------------------------------------
// Field helpers

const { mod, powMod, inv, batchInverse } = dp;

// Lagrange basis of the domain 2^p at tau, for indices i = first, first+step, ... (count values),
// as devptau.js (and `prepare phase2`) stores it in ptau section 12; trunc: the ptau's largest
// domain, where tau^(N-1) was replaced by 0.
function* lagrangeChunks(p, tau, omegaP, first, step, count, trunc, chunk) {
    const n = 2n ** BigInt(p);
    const nInv = inv(n);
    const c = (powMod(tau, n) - 1n + R) % R * nInv % R;
    const t = trunc ? powMod(tau, n - 1n) * nInv % R : 0n;
    const wStep = powMod(omegaP, BigInt(step));
    let wi = powMod(omegaP, BigInt(first));
    for (let a = 0; a < count; a += chunk) {
        const m = Math.min(chunk, count - a);
        const ws = new Array(m);
        const den = new Array(m);
        for (let i = 0; i < m; i++) {
            ws[i] = wi;
            den[i] = (tau - wi + R) % R;
            wi = wi * wStep % R;
        }
        const dinv = batchInverse(den);
        const L = new Array(m);
        for (let i = 0; i < m; i++) {
            let l = ws[i] * (c * dinv[i] % R) % R;
            if (t) l = (l - ws[i] * t % R + R) % R;
            L[i] = l;
        }
        yield L;
    }
}

// ---------------------------------------------------------------------------
// r1cs

function readR1cs(file) {
    const buf = fs.readFileSync(file);
    const sections = readSections(buf, "r1cs");
    if (!sections[1] || !sections[2]) throw new Error(`${file}: r1cs without header or constraints`);
    let p = sections[1].p;
    const n8 = buf.readUInt32LE(p); p += 4;
    if (n8 !== N8) throw new Error(`${file}: field size ${n8}, expected ${N8}`);
    const prime = readLE(buf, p, n8); p += n8;
    if (prime !== R) throw new Error(`${file}: r1cs is not over the BN254 scalar field`);
    const nVars = buf.readUInt32LE(p); p += 4;
    const nOutputs = buf.readUInt32LE(p); p += 4;
    const nPubInputs = buf.readUInt32LE(p); p += 4;
    p += 4;                 // private inputs
    p += 8;                 // labels
    const nConstraints = buf.readUInt32LE(p);
    return { buf, cons: sections[2], nVars, nOutputs, nPubInputs, nConstraints };
}

// Accumulate a_s, b_s, c_s (unreduced) from the constraints; fill the coefficient
// section (4) exactly as newZKey's processConstraints writes it.
function processConstraints(r1cs, nPublic, Lc) {
    const { buf, cons, nVars, nConstraints } = r1cs;
    const a = new Array(nVars).fill(0n);
    const b = new Array(nVars).fill(0n);
    const c = new Array(nVars).fill(0n);
    const R2 = (1n << 512n) % R;      // snarkjs writes coef * R^2 mod r (R = 2^256)
    const oneR2 = Buffer.alloc(N8); writeLE32(oneR2, 0, R2);
    const minusOneR2 = Buffer.alloc(N8); writeLE32(minusOneR2, 0, R - R2);
    const MINUS_ONE = R - 1n;

    // pass 1: count A and B terms to size section 4
    let pos = cons.p;
    const end = cons.p + cons.size;
    let nAB = 0;
    for (let k = 0; k < nConstraints; k++) {
        for (let m = 0; m < 3; m++) {
            const nt = buf.readUInt32LE(pos); pos += 4;
            if (m < 2) nAB += nt;
            pos += nt * (4 + N8);
        }
    }
    if (pos !== end) throw new Error("r1cs constraints section has an unexpected size");
    const nCoefs = nAB + nPublic + 1;
    const coefs = Buffer.alloc(4 + nCoefs * (12 + N8));
    coefs.writeUInt32LE(nCoefs, 0);
    let cp = 4;

    pos = cons.p;
    const acc = [a, b, c];
    for (let k = 0; k < nConstraints; k++) {
        const l = Lc[k];
        const negL = R - l;
        for (let m = 0; m < 3; m++) {
            const arr = acc[m];
            const nt = buf.readUInt32LE(pos); pos += 4;
            for (let t = 0; t < nt; t++) {
                const s = buf.readUInt32LE(pos);
                if (s >= nVars) throw new Error(`r1cs constraint ${k} uses signal ${s} >= ${nVars}`);
                const q0 = buf.readBigUInt64LE(pos + 4);
                const q1 = buf.readBigUInt64LE(pos + 12);
                const q2 = buf.readBigUInt64LE(pos + 20);
                const q3 = buf.readBigUInt64LE(pos + 28);
                let coefOut = null;
                if (q1 === 0n && q2 === 0n && q3 === 0n && q0 === 1n) {
                    arr[s] += l;
                    coefOut = oneR2;
                } else {
                    const v = q0 | (q1 << 64n) | (q2 << 128n) | (q3 << 192n);
                    if (v === MINUS_ONE) {
                        arr[s] += negL;
                        coefOut = minusOneR2;
                    } else {
                        arr[s] += v * l;
                        if (m < 2) { coefOut = Buffer.alloc(N8); writeLE32(coefOut, 0, v * R2 % R); }
                    }
                }
                if (m < 2) {
                    coefs.writeUInt32LE(m, cp);
                    coefs.writeUInt32LE(k, cp + 4);
                    coefs.writeUInt32LE(s, cp + 8);
                    coefOut.copy(coefs, cp + 12);
                    cp += 12 + N8;
                }
                pos += 4 + N8;
            }
        }
    }
    // the extra constraints 1 * s = 0 that bind the public signals (and ONE)
    for (let s = 0; s <= nPublic; s++) {
        a[s] += Lc[nConstraints + s];
        coefs.writeUInt32LE(0, cp);
        coefs.writeUInt32LE(nConstraints + s, cp + 4);
        coefs.writeUInt32LE(s, cp + 8);
        oneR2.copy(coefs, cp + 12);
        cp += 12 + N8;
    }
    if (cp !== coefs.length) throw new Error("internal: coefficient section size");
    for (let s = 0; s < nVars; s++) { a[s] %= R; b[s] %= R; c[s] %= R; }
    return { a, b, c, coefs };
}

// ---------------------------------------------------------------------------
// Raw wasm in the main thread: the ptau-point subtractions newZKey hashes
// (hashHPoints: P[n+i] - P[i] read from ptau section 2 with g1m_subAffine).

function wasmInstance(wasmModule, bytes) {
    const memory = new WebAssembly.Memory({ initial: Math.ceil((bytes + (8 << 20)) / 65536) });
    const instance = new WebAssembly.Instance(wasmModule, { env: { memory } });
    const e = instance.exports;
    const u32 = new Uint32Array(memory.buffer);
    let free = (u32[0] + 63) & ~63;
    const alloc = (n) => { const p = free; free += (n + 63) & ~63; u32[0] = free; return p; };
    return { e, memory, alloc, u8: () => new Uint8Array(memory.buffer) };
}

// ---------------------------------------------------------------------------

async function importESM(rel) {
    return import(pathToFileURL(path.join(dp.NODE_MODULES, rel)).href);
}

async function main() {
    const args = process.argv.slice(2);
    if (args.length < 4 || args.length > 5) {
        process.stderr.write("usage: node devsetup.js <circuit.r1cs> <dev.ptau> <ptau.secret> <out.zkey> [name]\n");
        process.exit(2);
    }
    const [r1csPath, ptauPath, secretPath, outArg] = args;
    const name = args[4] || DEFAULT_NAME;
    if (Buffer.byteLength(name, "utf8") > 64) throw new Error("contribution name longer than 64 bytes");
    const outPath = path.resolve(outArg);

    const { F1Field } = dp.loadModule("ffjavascript");
    const FrJS = new F1Field(R);
    const omega = (p) => BigInt(FrJS.w[p]);

    // ---- inputs
    const { tau, alpha, beta } = dp.deriveSecrets(dp.readSecretFile(secretPath));
    const ptau = fs.readFileSync(ptauPath);
    const ps = readSections(ptau, "ptau");
    for (const id of [1, 2, 4, 5, 6, 12]) {
        if (!ps[id]) throw new Error(`${ptauPath}: no section ${id} (not a prepared ptau)`);
    }
    if (ptau.readUInt32LE(ps[1].p) !== N8 || readLE(ptau, ps[1].p + 4, N8) !== Q) {
        throw new Error(`${ptauPath}: not a BN254 ptau`);
    }
    const power = ptau.readUInt32LE(ps[1].p + 4 + N8);
    const sG1 = SG[1], sG2 = SG[2];
    const alpha1 = ptau.subarray(ps[4].p, ps[4].p + sG1);
    const beta1 = ptau.subarray(ps[5].p, ps[5].p + sG1);
    const beta2 = ptau.subarray(ps[6].p, ps[6].p + sG2);
    const tau1 = ptau.subarray(ps[2].p + sG1, ps[2].p + 2 * sG1);

    const r1cs = readR1cs(r1csPath);
    const nPublic = r1cs.nOutputs + r1cs.nPubInputs;
    const nVars = r1cs.nVars;
    const cirPower = log2(r1cs.nConstraints + nPublic) + 1;
    if (cirPower > power) {
        throw new Error(`circuit too big for this ptau: needs 2^${cirPower}, the ptau has 2^${power}`);
    }
    const n = 2 ** cirPower;
    const trunc = cirPower === power;     // the H domain 2n is the ptau's last, truncated one
    const nL = nVars - nPublic - 1;
    mark("read");

    // ---- contribution secret delta and proof of knowledge (zkey_contribute.js, with snarkjs's code)
    const misc = await importESM("snarkjs/src/misc.js");
    const keypair = await importESM("snarkjs/src/keypair.js");
    const zkeyUtils = await importESM("snarkjs/src/zkey_utils.js");
    const binFileUtils = await importESM("@iden3/binfileutils/src/binfileutils.js");
    const { getCurveFromQ } = await importESM("snarkjs/src/curves.js");
    const curve = await getCurveFromQ(Q, { singleThread: true });
    const { Fr, G1, G2 } = curve;
    const rng = await misc.getRandomRng(crypto.randomBytes(32).toString("hex"));
    const contribution = { delta: {} };
    contribution.delta.prvKey = Fr.fromRng(rng);
    contribution.delta.g1_s = G1.toAffine(G1.fromRng(rng));
    contribution.delta.g1_sx = G1.toAffine(G1.timesFr(contribution.delta.g1_s, contribution.delta.prvKey));
    const delta = BigInt(Fr.toObject(contribution.delta.prvKey));
    if (delta === 0n) throw new Error("delta is zero");
    const deltaInv = inv(delta);
    mark("snarkjs modules");

    // ---- workers
    const wasm = await dp.buildWasm();
    const nThreads = dp.defaultThreads();
    const nG1 = 2 * nVars + 2 * nL + n + nPublic + 8;
    const nG2 = nVars + 2;
    const windows = [0, dp.chooseWindow(nG1 / nThreads), dp.chooseWindow(nG2 / nThreads)];
    const workers = dp.startWorkers(nThreads, wasm, windows);

    // output buffers
    const lem = {
        check1: Buffer.alloc(4 * sG1), check2: Buffer.alloc(2 * sG2),
        ic: Buffer.alloc((nPublic + 1) * sG1), a: Buffer.alloc(nVars * sG1), b1: Buffer.alloc(nVars * sG1),
        b2: Buffer.alloc(nVars * sG2), l: Buffer.alloc(nL * sG1), h: Buffer.alloc(n * sG1),
    };
    const uu = {
        check1: Buffer.alloc(4 * sG1), check2: Buffer.alloc(2 * sG2),
        ic: Buffer.alloc((nPublic + 1) * sG1), c: Buffer.alloc(nL * sG1), a: Buffer.alloc(nVars * sG1),
        b1: Buffer.alloc(nVars * sG1), b2: Buffer.alloc(nVars * sG2),
    };

    const store = (job, points) => {
        const off = job.at * SG[job.group];
        if (job.form === "lem") lem[job.sec].set(points, off);
        else if (job.form === "u") uu[job.sec].set(points, off);
        else { lem[job.sec].set(points.lem, off); uu[job.sec].set(points.u, off); }
    };

    function* checkJobs() {
        // the check against the ptau (and the uncompressed forms newZKey hashes); the first
        // job of each group also builds that worker's tables
        for (let i = 0; i < workers.length; i++) {
            yield { group: 1, scalars: [tau, alpha, beta, 1n], form: "both", sec: "check1", at: 0 };
            yield { group: 2, scalars: [beta, 1n], form: "both", sec: "check2", at: 0 };
        }
    }
    // the QAP polynomials at tau (main thread), computed while the workers build their tables
    function qap() {
        const nRows = r1cs.nConstraints + nPublic + 1;
        const Lc = [];
        for (const L of lagrangeChunks(cirPower, tau, omega(cirPower), 0, 1, nRows, false, 1 << 14)) {
            for (const x of L) Lc.push(x);
        }
        const acc = processConstraints(r1cs, nPublic, Lc);
        const k = new Array(nVars);
        for (let s = 0; s < nVars; s++) k[s] = (beta * acc.a[s] + alpha * acc.b[s] + acc.c[s]) % R;
        return { ...acc, k };
    }

    function* jobs({ a, b, k }) {
        // 1. H: odd points of the Lagrange basis of the domain 2n, over delta (scalars made as
        // the workers ask for them)
        let at = 0;
        const w2 = omega(cirPower + 1);
        for (const L of lagrangeChunks(cirPower + 1, tau, w2, 1, 2, n, trunc, CHUNK[1])) {
            yield { group: 1, scalars: L.map((x) => x * deltaInv % R), form: "lem", sec: "h", at };
            at += L.length;
        }
        // 2. IC, L (and the initial C = delta L that the circuit hash covers), A, B1, B2
        yield { group: 1, scalars: k.slice(0, nPublic + 1), form: "both", sec: "ic", at: 0 };
        for (let i = 0; i < nL; i += CHUNK[1]) {
            const ks = k.slice(nPublic + 1 + i, nPublic + 1 + Math.min(nL, i + CHUNK[1]));
            yield { group: 1, scalars: ks, form: "u", sec: "c", at: i };
            yield { group: 1, scalars: ks.map((x) => x * deltaInv % R), form: "lem", sec: "l", at: i };
        }
        for (let i = 0; i < nVars; i += CHUNK[1]) {
            const j = Math.min(nVars, i + CHUNK[1]);
            yield { group: 1, scalars: a.slice(i, j), form: "both", sec: "a", at: i };
            yield { group: 1, scalars: b.slice(i, j), form: "both", sec: "b1", at: i };
        }
        for (let i = 0; i < nVars; i += CHUNK[2]) {
            yield { group: 2, scalars: b.slice(i, Math.min(nVars, i + CHUNK[2])), form: "both", sec: "b2", at: i };
        }
    }

    let workMs;
    let coefs;
    try {
        const checked = dp.runJobs(workers, checkJobs(), store);   // jobs posted now
        const q = qap();
        coefs = q.coefs;
        mark("QAP at tau");
        workMs = await checked;
        // ---- the secret must be the ptau's
        if (!lem.check1.subarray(0, sG1).equals(tau1) || !lem.check1.subarray(sG1, 2 * sG1).equals(alpha1) ||
            !lem.check1.subarray(2 * sG1, 3 * sG1).equals(beta1) || !lem.check2.subarray(0, sG2).equals(beta2)) {
            throw new SecretMismatch(`${secretPath} is not the secret of ${ptauPath} ` +
                "(tau, alpha, beta do not match its points)");
        }
        mark("tables, secret checked");
        workMs += await dp.runJobs(workers, jobs(q), store);
    } finally {
        for (const wk of workers) wk.terminate();
    }
    mark("points");
    const g1LEM = lem.check1.subarray(3 * sG1), g2LEM = lem.check2.subarray(sG2);

    // ---- circuit hash: blake2b-512 of the initial key as newZKey hashes it
    const hasher = crypto.createHash("blake2b512");
    const u32be = (x) => { const b = Buffer.alloc(4); b.writeUInt32BE(x, 0); return b; };
    hasher.update(uu.check1.subarray(sG1, 2 * sG1));          // alpha1
    hasher.update(uu.check1.subarray(2 * sG1, 3 * sG1));      // beta1
    hasher.update(uu.check2.subarray(0, sG2));                // beta2
    const g1U = uu.check1.subarray(3 * sG1), g2U = uu.check2.subarray(sG2);
    hasher.update(g2U); hasher.update(g1U); hasher.update(g2U);   // gamma2, delta1, delta2 (generators)
    hasher.update(u32be(nPublic + 1)); hasher.update(uu.ic);
    // hashHPoints: (tau^(n+i) - tau^i) G1 read from ptau section 2, for i = 0 .. nHashed-1.
    // newZKey's loop hashes min(n-1, 2^14) points per chunk, so for n > 2^14 it hashes n
    // points (the last one past section 2 when n is the ptau's size: the same file bytes here).
    hasher.update(u32be(n - 1));
    let nHashed = 0;
    for (let i = 0; i < n - 1; i += HASH_CHUNK) nHashed += Math.min(n - 1, HASH_CHUNK);
    {
        const sJ = 3 * N8;
        const step = 1 << 14;
        const W = wasmInstance(wasm.wasmModule, step * (2 * sG1 + sJ));
        const pA = W.alloc(step * sG1), pB = W.alloc(step * sG1), pJ = W.alloc(step * sJ);
        const base = ps[2].p;
        for (let i = 0; i < nHashed; i += step) {
            const m = Math.min(step, nHashed - i);
            const A = ptau.subarray(base + (n + i) * sG1, base + (n + i + m) * sG1);
            const B = ptau.subarray(base + i * sG1, base + (i + m) * sG1);
            if (A.length !== m * sG1) throw new Error("ptau too short for the H hash");
            let u8 = W.u8();
            u8.set(A, pA); u8.set(B, pB);
            for (let j = 0; j < m; j++) W.e.g1m_subAffine(pA + j * sG1, pB + j * sG1, pJ + j * sJ);
            W.e.g1m_batchToAffine(pJ, m, pJ);
            W.e.g1m_batchLEMtoU(pJ, m, pJ);
            u8 = W.u8();
            hasher.update(u8.subarray(pJ, pJ + m * sG1));
        }
    }
    hasher.update(u32be(nL)); hasher.update(uu.c);
    hasher.update(u32be(nVars)); hasher.update(uu.a);
    hasher.update(u32be(nVars)); hasher.update(uu.b1);
    hasher.update(u32be(nVars)); hasher.update(uu.b2);
    const csHash = new Uint8Array(hasher.digest());
    mark("circuit hash");

    // ---- finish the contribution (zkey_contribute.js)
    const blake2b512 = () => crypto.createHash("blake2b512");     // = blake2b.create({dkLen: 64})
    const transcriptHasher = blake2b512();
    transcriptHasher.update(csHash);
    zkeyUtils.hashG1(transcriptHasher, curve, contribution.delta.g1_s);
    zkeyUtils.hashG1(transcriptHasher, curve, contribution.delta.g1_sx);
    contribution.transcript = new Uint8Array(transcriptHasher.digest());
    contribution.delta.g2_sp = keypair.hashToG2(curve, contribution.transcript);
    contribution.delta.g2_spx = G2.toAffine(G2.timesFr(contribution.delta.g2_sp, contribution.delta.prvKey));
    const delta1 = G1.toAffine(G1.timesFr(G1.g, contribution.delta.prvKey));
    const delta2 = G2.toAffine(G2.timesFr(G2.g, contribution.delta.prvKey));
    contribution.deltaAfter = delta1;
    contribution.type = 0;
    contribution.name = name;
    const mpcParams = { csHash, contributions: [contribution] };
    const delta1LEM = new Uint8Array(sG1); G1.toRprLEM(delta1LEM, 0, delta1);
    const delta2LEM = new Uint8Array(sG2); G2.toRprLEM(delta2LEM, 0, delta2);
    // and check the one relation snarkjs checks between delta and the new L/H sections
    // (delta * L_0 = C_0) on one point, cheaply: the scalars were divided by this delta.
    if (nL > 0) {
        const l0 = G1.fromRprLEM(lem.l, 0);
        const c0 = G1.toAffine(G1.timesFr(l0, contribution.delta.prvKey));
        const c0U = new Uint8Array(sG1); G1.toRprUncompressed(c0U, 0, c0);
        if (!Buffer.from(c0U).equals(uu.c.subarray(0, sG1))) throw new Error("internal: L section is not C / delta");
    }
    const contributionHasher = blake2b512();
    zkeyUtils.hashPubKey(contributionHasher, curve, contribution);
    const contributionHash = contributionHasher.digest();
    mark("contribution");

    // ---- write the zkey (sections in the order zkey contribute writes them)
    const tmpPath = dp.interruptibleTempPath(outPath);
    let ok = false;
    try {
        const fd = await binFileUtils.createBinFile(tmpPath, "zkey", 1, 10, 1 << 22, 1 << 24);
        const section = async (id, ...bufs) => {
            await binFileUtils.startWriteSection(fd, id);
            for (const b of bufs) await fd.write(b);
            await binFileUtils.endWriteSection(fd);
        };
        const u32le = (x) => { const b = Buffer.alloc(4); b.writeUInt32LE(x, 0); return b; };
        const big = (x) => { const b = Buffer.alloc(N8); writeLE32(b, 0, x); return b; };
        await section(1, u32le(1));                        // Groth16
        await section(2, u32le(N8), big(Q), u32le(N8), big(R), u32le(nVars), u32le(nPublic), u32le(n),
            alpha1, beta1, beta2, g2LEM, delta1LEM, delta2LEM);
        await section(3, lem.ic);
        await section(4, coefs);
        await section(5, lem.a);
        await section(6, lem.b1);
        await section(7, lem.b2);
        await section(8, lem.l);
        await section(9, lem.h);
        await zkeyUtils.writeMPCParams(fd, curve, mpcParams);
        await fd.close();
        const fh = fs.openSync(tmpPath, "r+");
        fs.fsyncSync(fh);
        fs.closeSync(fh);
        fs.renameSync(tmpPath, outPath);
        ok = true;
    } finally {
        if (!ok) { try { fs.unlinkSync(tmpPath); } catch (_) { /* ignore */ } }
        await curve.terminate();
    }
    mark("write");

    const hex = (b) => Buffer.from(b).toString("hex");
    process.stdout.write(JSON.stringify({
        zkey: outPath, constraints: r1cs.nConstraints, vars: nVars, public: nPublic, domain_size: n,
        ptau_power: power, threads: nThreads, windows: windows.slice(1), contribution_name: name,
        circuit_hash: hex(csHash), contribution_hash: hex(contributionHash),
        worker_ms: workMs, seconds: (Date.now() - T0) / 1000, phases,
    }) + "\n");
}

main().catch((err) => {
    process.stderr.write(`devsetup: ${err && err.stack && !(err instanceof SecretMismatch) ? err.stack : err.message || err}\n`);
    process.exit(err instanceof SecretMismatch ? 3 : 1);
});
