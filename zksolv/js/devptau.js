#!/usr/bin/env node
/*
 * zksolv INSECURE development powers of tau (BN254) -- NEVER use in production.
 *
 * Usage: node zksolv/js/devptau.js <power> <out.ptau> [secret-file]
 *
 * With a secret file (zksolv-dev-ptau-secret-v1:<64 hex digits>, written by
 * zksolv/devsetup.py) tau, alpha and beta are derived from it (deriveSecrets)
 * instead of drawn at random and forgotten, so that devsetup.js can compute
 * Groth16 keys for the file directly; the secret file is then the toxic waste.
 * The helpers (worker pool, fixed-base multiplication, field arithmetic) are
 * exported for devsetup.js.
 *
 * Writes a "prepared" (phase-2 ready) snarkjs .ptau file for circuits of up to
 * 2^power constraint rows, much faster than `snarkjs powersoftau new /
 * contribute / prepare phase2`.  It is insecure by construction: one process
 * picks the toxic waste tau, alpha, beta itself (they are only discarded when
 * the process exits), so whoever ran it could forge proofs.  It is meant for
 * development and tests only, and the file says so in its contribution name
 * ("zksolv INSECURE dev ptau - NEVER use in production").
 *
 * How: since tau, alpha and beta are known, every point in the file is
 * (known scalar) * generator.  The scalars are computed in Fr with BigInt:
 *   sections 2..5  tau^i, alpha*tau^i, beta*tau^i
 *   sections 12..15 Lagrange bases L_i(tau) = w^i (tau^n - 1) / (n (tau - w^i))
 *                   for every domain n = 2^0 .. 2^power (section 12 also holds
 *                   n = 2^(power+1), computed from the 2n-1 stored tau powers
 *                   exactly as `prepare phase2` does: last power replaced by 0)
 * and the points are computed by fixed-base windowed scalar multiplication
 * (precomputed tables j * 2^(w k) * G) in worker threads that drive the
 * wasmcurves BN254 WebAssembly code (the code ffjavascript/snarkjs use), so
 * the bytes are exactly the Montgomery little-endian affine points snarkjs
 * reads and writes.  Every section snarkjs's `powersoftau prepare phase2`
 * would write is written in full, so the file is a complete phase-1 file
 * (`prepare phase2` on it reproduces sections 12-15 byte for byte), only the
 * contribution record (section 7) is a label, not a verifiable contribution.
 *
 * node_modules: $ZKSOLV_NODE_MODULES if set, else <repo>/node_modules with
 * <repo> two directories above this file.
 * Other environment: ZKSOLV_PTAU_THREADS (workers, default: CPU count),
 * ZKSOLV_PTAU_DEBUG=1 (phase timings on stderr), ZKSOLV_PTAU_WINDOWS=w1,w2
 * (force table window widths; testing only).
 * The file is written to a temp file in the output directory and renamed
 * into place when complete; stdout gets one summary line, no secrets.
 */
"use strict";

const path = require("path");
const fs = require("fs");
const os = require("os");
const crypto = require("crypto");
const { Worker, isMainThread, parentPort, workerData } = require("worker_threads");

const NODE_MODULES = process.env.ZKSOLV_NODE_MODULES
    ? path.resolve(process.env.ZKSOLV_NODE_MODULES)
    : path.resolve(__dirname, "..", "..", "node_modules");

const MARKER = "zksolv INSECURE dev ptau - NEVER use in production";

// BN254 (alt_bn128) field moduli.
const Q = 21888242871839275222246405745257275088696311157297823662689037894645226208583n;
const R = 21888242871839275222246405745257275088548364400416034343698204186575808495617n;
const SCALAR_BITS = 254;           // R < 2^254
const N8 = 32;                     // bytes of one base-field element
const SG = [0, 2 * N8, 4 * N8];    // affine point size by group (1: G1, 2: G2)
const MAX_POWER = 27;              // section 12 needs domain 2^(power+1) <= 2^28 = 2^Fr.s
const CHUNK = [0, 4096, 2048];     // points per worker job

// Window width w of a fixed-base table: building it costs about
// 2^w * ceil(254/w) point additions (per worker), and each scalar
// multiplication then costs ceil(254/w) mixed additions.  Pick the w that
// minimises the total for the number of points each worker will compute.
function chooseWindow(pointsPerWorker) {
    let best = 4, bestCost = Infinity;
    for (let w = 4; w <= 16; w++) {
        const cost = Math.ceil(SCALAR_BITS / w) * (2 ** w + pointsPerWorker);
        if (cost < bestCost) { best = w; bestCost = cost; }
    }
    return best;
}

const DEBUG = !!process.env.ZKSOLV_PTAU_DEBUG;
const T0 = Date.now();
function debug(msg) {
    if (DEBUG) process.stderr.write(`devptau [${((Date.now() - T0) / 1000).toFixed(2)} s] ${msg}\n`);
}

function loadModule(name) {
    return require(path.join(NODE_MODULES, name));
}

// --------------------------------------------------------------------------
// Worker: fixed-base scalar multiplication in wasm
// --------------------------------------------------------------------------

function workerMain() {
    const { wasmModule, pG1gen, pG2gen, windows } = workerData;
    const PAGE = 65536;
    const memory = new WebAssembly.Memory({ initial: 32 });
    const instance = new WebAssembly.Instance(wasmModule, { env: { memory } });
    const e = instance.exports;
    let u8 = new Uint8Array(memory.buffer);
    let u32 = new Uint32Array(memory.buffer);

    // Bump allocator on top of the module's own free pointer (u32[0]); the
    // wasm code (batchToAffine, batchInverse) uses memory above u32[0] as
    // scratch (up to 2 * n * field size), so keep u32[0] above everything we
    // own and keep 16 MiB of headroom (enough for n = 2^16 G2 points).
    const HEADROOM = 16 << 20;
    let free = (u32[0] + 63) & ~63;
    function alloc(n) {
        const p = free;
        free += (n + 63) & ~63;
        const need = free + HEADROOM;
        if (need > memory.buffer.byteLength) {
            memory.grow(Math.ceil((need - memory.buffer.byteLength) / PAGE));
            u8 = new Uint8Array(memory.buffer);
            u32 = new Uint32Array(memory.buffer);
        }
        u32[0] = free;
        return p;
    }

    const groups = [null, null, null];

    function buildGroup(g) {
        const pfx = g === 1 ? "g1m" : "g2m";
        const sA = SG[g];
        const sJ = (sA / 2) * 3;
        const w = windows[g];
        const nW = Math.ceil(SCALAR_BITS / w);
        const nE = 1 << w;
        const gr = {
            w, nW, sA, sJ,
            zero: e[pfx + "_zero"],
            addMixed: e[pfx + "_addMixed"],
            batchToAffine: e[pfx + "_batchToAffine"],
            table: alloc(nW * nE * sA),
            jac: 0, aff: 0, cap: 0,
        };
        const add = e[pfx + "_add"];
        const double = e[pfx + "_double"];
        const copy = e[pfx + "_copy"];
        const scratch = alloc(nE * sJ);
        const base = alloc(sJ);
        copy(g === 1 ? pG1gen : pG2gen, base);
        for (let k = 0; k < nW; k++) {
            // scratch[j] = j * base, j = 0 .. 2^w - 1 (jacobian), base = 2^(w k) G
            gr.zero(scratch);
            copy(base, scratch + sJ);
            for (let j = 2; j < nE; j++) {
                if (j & 1) add(scratch + (j - 1) * sJ, base, scratch + j * sJ);
                else double(scratch + (j >> 1) * sJ, scratch + j * sJ);
            }
            gr.batchToAffine(scratch, nE, gr.table + k * nE * sA);
            for (let i = 0; i < w; i++) double(base, base);
        }
        return gr;
    }

    function ensureBuffers(gr, n) {
        if (gr.cap >= n) return;
        gr.jac = alloc(n * gr.sJ);
        gr.aff = alloc(n * gr.sA);
        gr.cap = n;
    }

    // scalars: n * 32 bytes little-endian standard form (+ padding).
    // form: "lem" (default: affine Montgomery little-endian, what .ptau/.zkey
    // files hold), "u" (uncompressed: big-endian standard form, what snarkjs
    // hashes) or "both" ({lem, u}).
    function run(g, scalars, n, form) {
        if (!groups[g]) groups[g] = buildGroup(g);
        const gr = groups[g];
        ensureBuffers(gr, n);
        const { w, nW, sA, sJ, table, jac, aff, zero, addMixed } = gr;
        const mask = (1 << w) - 1;
        const winBytes = (1 << w) * sA;
        for (let i = 0; i < n; i++) {
            const acc = jac + i * sJ;
            const s0 = i * 32;
            zero(acc);
            for (let k = 0; k < nW; k++) {
                const bit = k * w;
                const b = s0 + (bit >> 3);
                let d = ((scalars[b] | (scalars[b + 1] << 8) | (scalars[b + 2] << 16)) >>> (bit & 7)) & mask;
                if (bit + w > 256) d &= (1 << (256 - bit)) - 1;   // do not read the next scalar
                if (d !== 0) addMixed(acc, table + k * winBytes + d * sA, acc);
            }
        }
        gr.batchToAffine(jac, n, aff);
        const lem = (form === "u") ? null : u8.slice(aff, aff + n * sA);
        if (!form || form === "lem") return lem;
        e[(g === 1 ? "g1m" : "g2m") + "_batchLEMtoU"](aff, n, aff);
        const u = u8.slice(aff, aff + n * sA);
        return form === "u" ? u : { lem, u };
    }

    parentPort.on("message", (msg) => {
        const t = Date.now();
        const out = run(msg.group, msg.scalars, msg.n, msg.form);
        const transfer = out instanceof Uint8Array ? [out.buffer] : [out.lem.buffer, out.u.buffer];
        parentPort.postMessage({ id: msg.id, points: out, ms: Date.now() - t }, transfer);
    });
}

// --------------------------------------------------------------------------
// Main: field arithmetic, scheduling, file layout
// --------------------------------------------------------------------------

function mod(a) {
    a %= R;
    return a < 0n ? a + R : a;
}

function powMod(b, e) {
    let r = 1n;
    b = mod(b);
    while (e > 0n) {
        if (e & 1n) r = (r * b) % R;
        b = (b * b) % R;
        e >>= 1n;
    }
    return r;
}

function inv(a) {
    if (mod(a) === 0n) throw new Error("inverse of zero");
    return powMod(a, R - 2n);
}

function randomScalar() {
    for (;;) {
        const x = BigInt("0x" + crypto.randomBytes(64).toString("hex")) % R;
        if (x > 1n) return x;
    }
}

const MASK64 = (1n << 64n) - 1n;

function scalarsToBytes(arr) {
    // 32 bytes LE per scalar plus 4 bytes padding so the worker's 3-byte
    // window reads never run off the end.
    const buf = new Uint8Array(arr.length * 32 + 4);
    const dv = new DataView(buf.buffer);
    for (let i = 0; i < arr.length; i++) {
        let x = arr[i];
        const o = i * 32;
        dv.setBigUint64(o, x & MASK64, true); x >>= 64n;
        dv.setBigUint64(o + 8, x & MASK64, true); x >>= 64n;
        dv.setBigUint64(o + 16, x & MASK64, true); x >>= 64n;
        dv.setBigUint64(o + 24, x, true);
    }
    return buf;
}

function batchInverse(a) {
    const n = a.length;
    const pre = new Array(n);
    let acc = 1n;
    for (let i = 0; i < n; i++) { pre[i] = acc; acc = (acc * a[i]) % R; }
    let accInv = inv(acc);
    const out = new Array(n);
    for (let i = n - 1; i >= 0; i--) {
        out[i] = (accInv * pre[i]) % R;
        accInv = (accInv * a[i]) % R;
    }
    return out;
}

function layout(power) {
    const N = 2 ** power;
    const sizes = [
        [1, 4 + N8 + 4 + 4],
        [2, (2 * N - 1) * SG[1]],
        [3, N * SG[2]],
        [4, N * SG[1]],
        [5, N * SG[1]],
        [6, SG[2]],
        [7, null],                          // contributions, filled below
        [12, (4 * N - 1) * SG[1]],          // domains 2^0 .. 2^(power+1)
        [13, (2 * N - 1) * SG[2]],          // domains 2^0 .. 2^power
        [14, (2 * N - 1) * SG[1]],
        [15, (2 * N - 1) * SG[1]],
    ];
    return sizes;
}

function contributionBytes(name) {
    // One contribution record as snarkjs (powersoftau_utils.writeContribution)
    // lays it out: tauG1, tauG2, alphaG1, betaG1, betaG2, the contributor's
    // public key (6 G1 + 3 G2), partialHash(216), nextChallenge(64), type,
    // params.  Only the name parameter is meaningful here; the points and
    // hashes are left zero (the point at infinity), so `powersoftau verify`
    // rejects the file, as it should.
    const nameBytes = Buffer.from(name, "utf8");
    if (nameBytes.length > 64) throw new Error("contribution name too long");
    const fixed = 3 * SG[1] + 2 * SG[2] + 6 * SG[1] + 3 * SG[2] + 216 + 64;
    const params = Buffer.concat([Buffer.from([1, nameBytes.length]), nameBytes]);
    const buf = Buffer.alloc(4 + fixed + 4 + 4 + params.length);
    let p = 0;
    buf.writeUInt32LE(1, p); p += 4;              // number of contributions
    p += fixed;
    buf.writeUInt32LE(0, p); p += 4;              // type 0 (not a beacon)
    buf.writeUInt32LE(params.length, p); p += 4;
    params.copy(buf, p);
    return buf;
}

// --------------------------------------------------------------------------
// Known secrets (optional): tau, alpha, beta derived from a secret file, so
// that zksolv/js/devsetup.js can later compute Groth16 keys for this ptau
// directly.  The file is the toxic waste itself: whoever reads it can forge
// proofs for every key made from the ptau.
// --------------------------------------------------------------------------

const SECRET_HEADER = "zksolv-dev-ptau-secret-v1:";

function readSecretFile(file) {
    const text = fs.readFileSync(file, "ascii").trim();
    if (!text.startsWith(SECRET_HEADER) || !/^[0-9a-f]{64}$/.test(text.slice(SECRET_HEADER.length))) {
        throw new Error(`${file}: not a zksolv dev ptau secret (${SECRET_HEADER}<64 hex digits>)`);
    }
    return Buffer.from(text.slice(SECRET_HEADER.length), "hex");
}

// tau, alpha, beta = HMAC-SHA512(seed, "zksolv dev ptau <name> <counter>") mod R,
// the first value > 1 (the counter almost never moves past 0).
function deriveSecrets(seed) {
    function derive(name) {
        for (let ctr = 0; ; ctr++) {
            const mac = crypto.createHmac("sha512", seed).update(`zksolv dev ptau ${name} ${ctr}`).digest("hex");
            const x = BigInt("0x" + mac) % R;
            if (x > 1n) return x;
        }
    }
    return { tau: derive("tau"), alpha: derive("alpha"), beta: derive("beta") };
}

// --------------------------------------------------------------------------
// Worker pool (shared with devsetup.js)
// --------------------------------------------------------------------------

// The BN254 wasm module ffjavascript/snarkjs use, compiled once and shared by the workers.
async function buildWasm() {
    const { ModuleBuilder } = loadModule("wasmbuilder");
    const { buildBn128 } = loadModule("wasmcurves");
    const mb = new ModuleBuilder();
    mb.setMemory(25);
    buildBn128(mb);
    const wasmModule = await WebAssembly.compile(mb.build());
    const { pG1gen, pG2gen } = mb.modules.bn128;
    return { wasmModule, pG1gen, pG2gen };
}

function defaultThreads() {
    return Math.max(1, Number(process.env.ZKSOLV_PTAU_THREADS) ||
        (os.availableParallelism ? os.availableParallelism() : os.cpus().length));
}

// windows: [0, w1, w2] table widths for G1 and G2 (chooseWindow).
function startWorkers(nThreads, wasm, windows) {
    const workers = [];
    for (let i = 0; i < nThreads; i++) {
        workers.push(new Worker(__filename, { workerData: { ...wasm, windows } }));
    }
    return workers;
}

// Feed the jobs of the generator `gen` ({group, scalars: BigInt[], form?, ...})
// to the workers, two in flight per worker; onResult(job, points) gets each
// job's points (Uint8Array, or {lem, u} for form "both") as they come back,
// in any order.  Resolves with the summed worker milliseconds.
function runJobs(workers, gen, onResult) {
    let workMs = 0;
    return new Promise((resolve, reject) => {
        const pending = new Map();
        const listeners = [];
        let nextId = 0;
        let done = false;
        let failed = false;
        // the workers outlive one call (devsetup.js runs several): drop our listeners at the end
        const detach = () => { for (const [wk, ev, fn] of listeners) wk.off(ev, fn); };
        const fail = (err) => { if (!failed) { failed = true; detach(); reject(err); } };
        let finished = false;
        const finish = () => { if (!finished) { finished = true; detach(); resolve(workMs); } };
        function feed(wk) {
            if (done || failed) return;
            let it;
            try { it = gen.next(); } catch (err) { fail(err); return; }
            if (it.done) { done = true; if (pending.size === 0) finish(); return; }
            const job = it.value;
            const id = nextId++;
            const scalars = scalarsToBytes(job.scalars);
            pending.set(id, job);
            wk.postMessage({ id, group: job.group, n: job.scalars.length, form: job.form, scalars }, [scalars.buffer]);
        }
        for (const wk of workers) {
            const onMessage = (msg) => {
                if (failed) return;
                workMs += msg.ms;
                const job = pending.get(msg.id);
                pending.delete(msg.id);
                try {
                    onResult(job, msg.points);
                } catch (err) { fail(err); return; }
                feed(wk);
                if (done && pending.size === 0) finish();
            };
            const onExit = (code) => { if (code !== 0) fail(new Error(`worker exited with code ${code}`)); };
            listeners.push([wk, "message", onMessage], [wk, "error", fail], [wk, "exit", onExit]);
            wk.on("message", onMessage);
            wk.on("error", fail);
            wk.on("exit", onExit);
        }
        // two jobs in flight per worker keeps them busy while the main thread computes scalars
        for (const wk of workers) { feed(wk); feed(wk); }
    });
}

// A temporary file beside outPath (renamed into place once complete, so out is never half
// written); when interrupted, the partial temporary file is removed.
function interruptibleTempPath(outPath) {
    const tmpPath = path.join(path.dirname(outPath),
        `.${path.basename(outPath)}.${process.pid}.${crypto.randomBytes(4).toString("hex")}.tmp`);
    const onSignal = (sig) => {
        try { fs.unlinkSync(tmpPath); } catch (_) { /* ignore */ }
        process.exit(sig === "SIGINT" ? 130 : 143);
    };
    process.once("SIGINT", onSignal);
    process.once("SIGTERM", onSignal);
    return tmpPath;
}

async function mainMain() {
    const args = process.argv.slice(2);
    if (args.length < 2 || args.length > 3 || !/^\d+$/.test(args[0])) {
        process.stderr.write("usage: node devptau.js <power> <out.ptau> [secret-file]\n");
        process.exit(2);
    }
    const secretFile = args[2];
    const power = Number(args[0]);
    if (power < 1 || power > MAX_POWER) {
        process.stderr.write(`power must be in 1..${MAX_POWER}\n`);
        process.exit(2);
    }
    const outPath = path.resolve(args[1]);
    const t0 = Date.now();

    const { F1Field } = loadModule("ffjavascript");

    // Roots of unity exactly as ffjavascript (hence snarkjs) defines them.
    const Fr = new F1Field(R);
    const omega = (p) => BigInt(Fr.w[p]);

    // Same wasm build as ffjavascript's buildBn128 (memory imported as env.memory).
    const wasm = await buildWasm();
    debug("wasm compiled");

    const nThreads = defaultThreads();

    // ---- file layout
    const N = 2 ** power;
    const contrib = contributionBytes(MARKER);
    const secs = layout(power);
    secs[6][1] = contrib.length;
    const sectionPos = {};
    let pos = 4 + 4 + 4;
    for (const [id, size] of secs) {
        sectionPos[id] = pos + 12;
        pos += 12 + size;
    }
    const fileSize = pos;

    const tmpPath = interruptibleTempPath(outPath);
    const fd = fs.openSync(tmpPath, "w", 0o644);
    let ok = false;
    const workers = [];
    try {
        fs.ftruncateSync(fd, fileSize);
        const head = Buffer.alloc(12);
        head.write("ptau", 0, "latin1");
        head.writeUInt32LE(1, 4);                 // version
        head.writeUInt32LE(secs.length, 8);
        fs.writeSync(fd, head, 0, 12, 0);
        for (const [id, size] of secs) {
            const h = Buffer.alloc(12);
            h.writeUInt32LE(id, 0);
            h.writeBigUInt64LE(BigInt(size), 4);
            fs.writeSync(fd, h, 0, 12, sectionPos[id] - 12);
        }
        const hdr = Buffer.alloc(44);
        hdr.writeUInt32LE(N8, 0);
        let q = Q;
        for (let i = 0; i < N8; i++) { hdr[4 + i] = Number(q & 0xffn); q >>= 8n; }
        hdr.writeUInt32LE(power, 36);             // power
        hdr.writeUInt32LE(power, 40);             // ceremonyPower
        fs.writeSync(fd, hdr, 0, hdr.length, sectionPos[1]);
        fs.writeSync(fd, contrib, 0, contrib.length, sectionPos[7]);

        // ---- secrets (never printed, dropped when the process exits)
        let { tau, alpha, beta } = secretFile ? deriveSecrets(readSecretFile(secretFile))
            : { tau: randomScalar(), alpha: randomScalar(), beta: randomScalar() };

        // ---- job generator: yields {group, scalars[], pos}
        function* jobs() {
            const sG1 = SG[1], sG2 = SG[2];
            // sections 2..6: powers of tau
            const nTau = 2 * N - 1;
            const step = CHUNK[1];
            let t = 1n;
            for (let a = 0; a < nTau; a += step) {
                const b = Math.min(nTau, a + step);
                const pw = new Array(b - a);
                for (let i = 0; i < pw.length; i++) { pw[i] = t; t = (t * tau) % R; }
                yield { group: 1, scalars: pw, pos: sectionPos[2] + a * sG1 };
                if (a < N) {
                    const m = Math.min(b, N) - a;
                    const sub = pw.slice(0, m);
                    for (let c = 0; c < m; c += CHUNK[2]) {
                        yield { group: 2, scalars: sub.slice(c, c + CHUNK[2]), pos: sectionPos[3] + (a + c) * sG2 };
                    }
                    yield { group: 1, scalars: sub.map((x) => (x * alpha) % R), pos: sectionPos[4] + a * sG1 };
                    yield { group: 1, scalars: sub.map((x) => (x * beta) % R), pos: sectionPos[5] + a * sG1 };
                }
            }
            yield { group: 2, scalars: [beta], pos: sectionPos[6] };

            // sections 12..15: Lagrange bases for domains 2^p
            for (let p = 0; p <= power + 1; p++) {
                const n = 2 ** p;
                const w = omega(p);
                const nInv = inv(BigInt(n));
                const c = ((powMod(tau, BigInt(n)) - 1n + R) % R) * nInv % R;
                // domain 2^(power+1): prepare phase2 sets tau^(n-1) to zero
                const trunc = (p === power + 1) ? powMod(tau, BigInt(n - 1)) * nInv % R : 0n;
                const off = n - 1;                 // points before this domain
                let wi = powMod(w, 0n);
                for (let a = 0; a < n; a += step) {
                    const b = Math.min(n, a + step);
                    const ws = new Array(b - a);
                    const den = new Array(b - a);
                    for (let i = 0; i < ws.length; i++) {
                        ws[i] = wi;
                        den[i] = (tau - wi + R) % R;
                        wi = (wi * w) % R;
                    }
                    const dinv = batchInverse(den);
                    const L = new Array(ws.length);
                    for (let i = 0; i < ws.length; i++) {
                        let l = ws[i] * ((c * dinv[i]) % R) % R;
                        if (trunc) l = (l - ws[i] * trunc % R + R) % R;
                        L[i] = l;
                    }
                    yield { group: 1, scalars: L, pos: sectionPos[12] + (off + a) * sG1 };
                    if (p <= power) {
                        for (let cc = 0; cc < L.length; cc += CHUNK[2]) {
                            yield { group: 2, scalars: L.slice(cc, cc + CHUNK[2]), pos: sectionPos[13] + (off + a + cc) * sG2 };
                        }
                        yield { group: 1, scalars: L.map((x) => (x * alpha) % R), pos: sectionPos[14] + (off + a) * sG1 };
                        yield { group: 1, scalars: L.map((x) => (x * beta) % R), pos: sectionPos[15] + (off + a) * sG1 };
                    }
                }
            }
            tau = alpha = beta = 0n;
        }

        // ---- run the pool
        // points per group: G1 = sections 2,4,5,12,14,15; G2 = sections 3,6,13
        const nG1 = (2 * N - 1) + 2 * N + (4 * N - 1) + 2 * (2 * N - 1);
        const nG2 = N + 1 + (2 * N - 1);
        const windows = [0, chooseWindow(nG1 / nThreads), chooseWindow(nG2 / nThreads)];
        if (process.env.ZKSOLV_PTAU_WINDOWS) {        // testing only: "w1,w2", each 4..16
            const ws = process.env.ZKSOLV_PTAU_WINDOWS.split(",").map(Number);
            if (ws.length !== 2 || !ws.every((x) => Number.isInteger(x) && x >= 4 && x <= 16)) {
                throw new Error("ZKSOLV_PTAU_WINDOWS must be two integers in 4..16");
            }
            windows[1] = ws[0];
            windows[2] = ws[1];
        }
        debug(`threads ${nThreads}, windows G1 ${windows[1]} G2 ${windows[2]}`);
        workers.push(...startWorkers(nThreads, wasm, windows));
        const genStart = Date.now();
        debug("workers started");
        const workMs = await runJobs(workers, jobs(), (job, points) => {
            fs.writeSync(fd, points, 0, points.length, job.pos);
        });
        const genMs = Date.now() - genStart;
        debug(`points done in ${genMs} ms wall, worker time ${workMs} ms`);
        fs.fsyncSync(fd);
        ok = true;
    } finally {
        for (const wk of workers) wk.terminate();
        fs.closeSync(fd);
        if (!ok) { try { fs.unlinkSync(tmpPath); } catch (_) { /* ignore */ } }
    }
    fs.renameSync(tmpPath, outPath);
    const secs2 = ((Date.now() - t0) / 1000).toFixed(1);
    process.stdout.write(`wrote ${outPath}: INSECURE development ptau, power ${power}, ${fileSize} bytes, ${nThreads} threads, ${secs2} s\n`);
}

module.exports = {
    NODE_MODULES, MARKER, Q, R, N8, SG, SCALAR_BITS, SECRET_HEADER,
    loadModule, mod, powMod, inv, batchInverse, scalarsToBytes, chooseWindow, randomScalar,
    readSecretFile, deriveSecrets, buildWasm, defaultThreads, startWorkers, runJobs, interruptibleTempPath,
};

// Run as a script, or as one of the workers startWorkers() starts; a plain
// require() (devsetup.js) only gets the exports.
if (require.main === module) {
    if (isMainThread) {
        mainMain().catch((err) => {
            process.stderr.write(`devptau: ${err && err.stack ? err.stack : err}\n`);
            process.exit(1);
        });
    } else {
        workerMain();
    }
}
