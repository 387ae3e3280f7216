// A holder's inclusion file checked against a bundle's manifest, in the browser: the port of
// zksolv/inclusion.py verify_inclusion (PROTOCOL.md §4), with the same checks in the same order and
// the same reasons. Nothing here touches the page or the network; ui.js shows what it returns.

import {
  AMOUNT_MAX,
  AMOUNT_MIN,
  FIELD_MODULUS,
  ValueProblem,
  bytesToBigInt,
  codePointLength,
  fromUnits,
  hasLoneSurrogate,
  packAmounts,
  parseFieldText,
  pyRepr,
  toUnits,
} from "./exact.js";
import { marginStatus } from "./margin.js";
import { paramsHash, readParams } from "./params.js";
import { poseidon } from "./poseidon.js";
import { sha256 } from "./sha256.js";

/** @typedef {import("./params.js").Params} Params */

// The formats this page reads; tests/test_browser.py requires them to be zksolv's own.
export const INCLUSION_FORMAT = "zksolv-inclusion/5";
export const BUNDLE_FORMAT = "zksolv-bundle/6";

const utf8 = new TextEncoder();
const ID_TAG = utf8.encode("zksolv/account-id/v1");
// First input of every leaf hash: domain-separates leaves from inner nodes (zksolv.commitment.LEAF_TAG).
const LEAF_TAG = bytesToBigInt(utf8.encode("zksolv.leaf.v2"));
const CONTROL = /[\x00-\x1f\x7f]/;
const MAX_CAPACITY = 1n << 40n;

/**
 * JSON text as a value, every integer an exact BigInt (JSON.parse would round 2^53 + 1, and a
 * leaf index or a decimals count must be read as written). Other numbers stay floats, which no
 * field of these files accepts. Strict as zksolv.io.parse_json: a byte-order mark is skipped, and
 * a duplicate key refused (JSON.parse keeps the last of two, another reader may keep the first).
 * @param {string} text @returns {unknown}
 */
export function parseJson(text) {
  const body = text.startsWith("\ufeff") ? text.slice(1) : text;
  const value = JSON.parse(body, (_key, value, context) => {
    if (typeof value !== "number") return value;
    const source = context && typeof context.source === "string" ? context.source : null;
    if (source !== null) return /^-?(0|[1-9][0-9]*)$/.test(source) ? BigInt(source) : value;
    return Number.isSafeInteger(value) ? BigInt(value) : value; // a browser without JSON.parse source text
  });
  const twice = duplicateKey(body);
  if (twice !== null) {
    throw new ValueProblem(`duplicate key ${pyRepr(twice)} (JSON readers disagree on which one counts, so the page refuses the file)`);
  }
  return value;
}

/**
 * The first key that some object of `text` (valid JSON: JSON.parse has read it) gives twice, or null.
 * A string inside an object is a key exactly when a colon follows it.
 * @param {string} text @returns {string | null}
 */
function duplicateKey(text) {
  /** @type {(Set<string> | null)[]} */
  const open = [];
  const space = (/** @type {string} */ c) => c === " " || c === "\t" || c === "\n" || c === "\r";
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === "{") open.push(new Set());
    else if (c === "[") open.push(null);
    else if (c === "}" || c === "]") open.pop();
    else if (c === '"') {
      let end = i + 1;
      while (text[end] !== '"') end += text[end] === "\\" ? 2 : 1;
      const keys = open[open.length - 1];
      if (keys) {
        let next = end + 1;
        while (space(text[next])) next++;
        if (text[next] === ":") {
          const key = JSON.parse(text.slice(i, end + 1));
          if (keys.has(key)) return key;
          keys.add(key);
        }
      }
      i = end;
    }
  }
  return null;
}

/** utf8(id) for a main account, utf8(id) ‖ 0x00 ‖ utf8(sub) for a sub-account (commitment.identity_bytes). */
function identityBytes(/** @type {string} */ accountId, /** @type {string} */ subaccount) {
  const id = utf8.encode(accountId);
  if (!subaccount) return id;
  const sub = utf8.encode(subaccount);
  const out = new Uint8Array(id.length + 1 + sub.length);
  out.set(id);
  out.set(sub, id.length + 1);
  return out;
}

/** commitment.account_id_field: SHA-256(ID_TAG ‖ 0x00 ‖ identity) truncated to 248 bits. @returns {bigint} */
export function accountIdField(/** @type {string} */ accountId, subaccount = "") {
  const identity = identityBytes(accountId, subaccount);
  const message = new Uint8Array(ID_TAG.length + 1 + identity.length);
  message.set(ID_TAG);
  message.set(identity, ID_TAG.length + 1);
  return bytesToBigInt(sha256(message)) >> 8n;
}

/** commitment.account_key: Poseidon(id field, salt). @returns {bigint} */
export function accountKey(/** @type {string} */ accountId, /** @type {bigint} */ salt, subaccount = "") {
  return poseidon([accountIdField(accountId, subaccount), salt]);
}

/** commitment.leaf_hash: Poseidon(LEAF_TAG, key, packed leaf values). @returns {bigint} */
export function leafHash(/** @type {bigint} */ key, /** @type {bigint[]} */ values) {
  return poseidon([LEAF_TAG, key, ...packAmounts(values)]);
}

/**
 * @typedef {{account_id: string, subaccount: string, balances: Record<string, string>,
 *   positions: Record<string, string>, entry_costs: Record<string, string>,
 *   entry_prices: Record<string, string>, unrealized_pnl: Record<string, string>,
 *   margin_mode: string}} AccountRecord
 */

/**
 * THE LEAF VALUE RULE (PROTOCOL.md §4), the one place the page lays out what a leaf hashes: every
 * real asset's balance (params order), then for each market with "entry_cost_decimals" d (market
 * order) −cost in units of 10^-d quote (format 6, §3.4), then every market's and option's position,
 * and with scenarios the margin mode (1 portfolio, 0 cross). A slot the file leaves out counts as 0:
 * if the leaf holds anything else its hash fails. Each value at its slot's decimals, exactly, within
 * the signed 64-bit range (inclusion._amounts).
 * @param {AccountRecord} account @param {Params} params @returns {bigint[]}
 */
export function leafValues(account, params) {
  if (Object.keys(account.entry_prices).length || Object.keys(account.unrealized_pnl).length) {
    throw new ValueProblem("an inclusion file gives entry_costs, not entry_prices or unrealized_pnl");
  }
  /** @type {[string, Record<string, string>, string, number, bigint][]} kind, values, symbol, decimals, sign */
  const slots = [
    ...params.assets.filter((a) => a.costOf === null).map((a) => ["balances", account.balances, a.symbol, a.decimals, 1n]),
    ...params.assets.filter((a) => a.costOf !== null).map((a) => ["entry_costs", account.entry_costs, a.costOf, a.decimals, -1n]),
    ...params.markets.map((m) => ["positions", account.positions, m.symbol, m.decimals, 1n]),
  ];
  for (const kind of ["balances", "entry_costs", "positions"]) {
    const known = new Set(slots.filter((s) => s[0] === kind).map((s) => s[2]));
    const unknown = Object.keys(/** @type {any} */ (account)[kind]).filter((k) => !known.has(k)).sort();
    if (unknown.length) throw new ValueProblem(`unknown ${kind} [${unknown.map(pyRepr).join(", ")}]`);
  }
  const values = slots.map(([kind, given, symbol, decimals, sign]) => {
    let value;
    try {
      value = sign * toUnits(Object.hasOwn(given, symbol) ? given[symbol] : "0", decimals);
    } catch (problem) {
      throw new ValueProblem(`${kind}.${symbol}: ${/** @type {Error} */ (problem).message}`);
    }
    if (value < AMOUNT_MIN || value > AMOUNT_MAX) throw new ValueProblem(`${kind}.${symbol} outside the signed 64-bit range`);
    return value;
  });
  if (params.scenarios.length) values.push(account.margin_mode === "portfolio" ? 1n : 0n);
  return values;
}

/**
 * An account as its leaf encodes it (commitment.account_document): every asset, entry cost and
 * market of the params, zeros included, rendered from the hashed integers, never from the file's
 * own strings (which could spell a value otherwise or leave a slot out).
 * @param {Params} params @param {string} accountId @param {bigint[]} values @param {string} subaccount
 */
export function accountDocument(params, accountId, values, subaccount) {
  const k = params.assets.length;
  /** @type {Record<string, unknown>} */
  const document = {
    account_id: accountId,
    subaccount,
    balances: Object.fromEntries(
      params.assets.flatMap((a, i) => (a.costOf === null ? [[a.symbol, fromUnits(values[i], a.decimals)]] : [])),
    ),
    positions: Object.fromEntries(params.markets.map((m, j) => [m.symbol, fromUnits(values[k + j], m.decimals)])),
  };
  if (params.assets.some((a) => a.costOf !== null)) {
    document.entry_costs = Object.fromEntries(
      params.assets.flatMap((a, i) => (a.costOf !== null ? [[a.costOf, fromUnits(-values[i], a.decimals)]] : [])),
    );
  }
  if (params.scenarios.length) document.margin_mode = values[k + params.markets.length] ? "portfolio" : "cross";
  return document;
}

// ---------------------------------------------------------------------------------------------
// The two files, read as zksolv's pydantic models read them (strict types, no unknown fields).

/** A field path for messages: "subaccounts[0].account.balances". */
const at = (/** @type {string} */ path, /** @type {string | number} */ key) =>
  typeof key === "number" ? `${path}[${key}]` : path ? `${path}.${key}` : key;

function fail(/** @type {string} */ path, /** @type {string} */ message) {
  return new ValueProblem(path ? `${path}: ${message}` : message);
}

/** @returns {Record<string, unknown>} */
function fields(/** @type {unknown} */ value, /** @type {string} */ path, /** @type {string[]} */ required, /** @type {string[]} */ optional) {
  if (value === null || typeof value !== "object" || Array.isArray(value)) throw fail(path, "expected a JSON object");
  const record = /** @type {Record<string, unknown>} */ (value);
  const unknown = Object.keys(record).filter((k) => !required.includes(k) && !optional.includes(k));
  if (unknown.length) throw fail(at(path, unknown[0]), "unknown field");
  const missing = required.filter((k) => !(k in record));
  if (missing.length) throw fail(at(path, missing[0]), "field required");
  return record;
}

function string(/** @type {unknown} */ value, /** @type {string} */ path) {
  if (typeof value !== "string") throw fail(path, "expected a string");
  if (hasLoneSurrogate(value)) throw fail(path, "not UTF-8 text (a lone surrogate)");
  return value;
}

/** An account id (1–256 characters) or sub-account name (0–64), without control characters. */
function name(/** @type {unknown} */ value, /** @type {string} */ path, /** @type {number} */ min, /** @type {number} */ max) {
  const s = string(value, path);
  const n = codePointLength(s);
  if (n < min || n > max || CONTROL.test(s)) throw fail(path, `must be ${min}–${max} characters without control characters`);
  return s;
}

/** @returns {Record<string, string>} symbol → decimal text */
function amounts(/** @type {unknown} */ value, /** @type {string} */ path) {
  if (value === undefined) return {};
  if (value === null || typeof value !== "object" || Array.isArray(value)) throw fail(path, "expected a JSON object");
  // No prototype: a key "__proto__" must stay a key (and be refused as an unknown symbol), not be
  // swallowed by the assignment below.
  /** @type {Record<string, string>} */
  const out = Object.create(null);
  for (const [symbol, text] of Object.entries(/** @type {Record<string, unknown>} */ (value))) {
    out[symbol] = string(text, at(path, symbol));
  }
  return out;
}

/**
 * @typedef {{leaf_index: bigint, leaf: bigint, siblings: bigint[], salt: bigint, account: AccountRecord}} SubaccountPath
 * @typedef {{format: string, epoch: string, root: bigint, rootText: string, account_id: string,
 *   subaccounts: SubaccountPath[], params: unknown}} InclusionFile
 * @typedef {{root: bigint, capacity: bigint, epoch: string, params_hash: bigint}} Manifest
 */

/**
 * A holder's inclusion file (inclusion.InclusionProofFile). The format first: a file of another
 * format is refused for that, not for its other fields. @param {unknown} data @returns {InclusionFile}
 */
export function readInclusionFile(data) {
  if (data === null || typeof data !== "object" || Array.isArray(data)) throw fail("", "a JSON object is expected");
  const format = /** @type {Record<string, unknown>} */ (data).format;
  if (format !== INCLUSION_FORMAT) {
    throw fail("format", `not a ${INCLUSION_FORMAT} file: format ${typeof format === "string" ? pyRepr(format) : String(format)} (this page checks ${INCLUSION_FORMAT}; ask the venue for this epoch's file in it)`);
  }
  const file = fields(data, "", ["format", "epoch", "root", "account_id", "subaccounts", "params"], []);
  const rootText = string(file.root, "root");
  const list = file.subaccounts;
  if (!Array.isArray(list) || list.length < 1) throw fail("subaccounts", "expected a list of at least one account");
  return {
    format: INCLUSION_FORMAT,
    epoch: string(file.epoch, "epoch"),
    root: parseFieldText(rootText, "root"),
    rootText,
    account_id: name(file.account_id, "account_id", 1, 256),
    subaccounts: list.map((item, i) => {
      const path = at("subaccounts", i);
      const entry = fields(item, path, ["leaf_index", "leaf", "siblings", "salt", "account"], []);
      const index = entry.leaf_index;
      if (typeof index !== "bigint" || index < 0n) throw fail(at(path, "leaf_index"), "expected an integer ≥ 0");
      const siblings = entry.siblings;
      if (!Array.isArray(siblings) || siblings.length < 1 || siblings.length > 64) {
        throw fail(at(path, "siblings"), "expected a list of 1 to 64 field elements");
      }
      const apath = at(path, "account");
      const account = fields(entry.account, apath, ["account_id"], [
        "subaccount",
        "balances",
        "positions",
        "margin_mode",
        "entry_costs",
        "entry_prices",
        "unrealized_pnl",
      ]);
      const mode = account.margin_mode === undefined ? "cross" : account.margin_mode;
      if (mode !== "cross" && mode !== "portfolio") throw fail(at(apath, "margin_mode"), "must be cross or portfolio");
      return {
        leaf_index: index,
        leaf: parseFieldText(entry.leaf, at(path, "leaf")),
        siblings: siblings.map((s, j) => parseFieldText(s, at(at(path, "siblings"), j))),
        salt: parseFieldText(entry.salt, at(path, "salt")),
        account: {
          account_id: name(account.account_id, at(apath, "account_id"), 1, 256),
          subaccount: account.subaccount === undefined ? "" : name(account.subaccount, at(apath, "subaccount"), 0, 64),
          balances: amounts(account.balances, at(apath, "balances")),
          positions: amounts(account.positions, at(apath, "positions")),
          entry_costs: amounts(account.entry_costs, at(apath, "entry_costs")),
          entry_prices: amounts(account.entry_prices, at(apath, "entry_prices")),
          unrealized_pnl: amounts(account.unrealized_pnl, at(apath, "unrealized_pnl")),
          margin_mode: mode,
        },
      };
    }),
    params: file.params,
  };
}

/**
 * What the page needs of a bundle's manifest.json: its format, epoch, root, capacity and params
 * hash (the rest is for `zksolv verify`, which checks the proofs that stand behind them).
 * @param {unknown} data @returns {Manifest}
 */
export function readManifest(data) {
  if (data === null || typeof data !== "object" || Array.isArray(data)) throw fail("", "a JSON object is expected");
  const manifest = /** @type {Record<string, unknown>} */ (data);
  if (manifest.format !== BUNDLE_FORMAT) {
    throw fail("format", `not a ${BUNDLE_FORMAT} manifest: format ${typeof manifest.format === "string" ? pyRepr(manifest.format) : String(manifest.format)} (this page checks ${BUNDLE_FORMAT}; ask the venue for this epoch's bundle in it)`);
  }
  for (const key of ["epoch", "root", "params_hash", "capacity"]) {
    if (!(key in manifest)) throw fail(key, "field required");
  }
  const capacity = manifest.capacity;
  if (typeof capacity !== "bigint" || capacity < 1n || capacity > MAX_CAPACITY) {
    throw fail("capacity", "expected an integer from 1 to 2^40");
  }
  return {
    epoch: string(manifest.epoch, "epoch"),
    root: parseFieldText(manifest.root, "root"),
    capacity,
    params_hash: parseFieldText(manifest.params_hash, "params_hash"),
  };
}

// ---------------------------------------------------------------------------------------------
// The check itself (inclusion.verify_inclusion and _check_path).

/** How messages name one account of a holder's file (inclusion.subaccount_name). */
export function subaccountName(/** @type {string} */ subaccount) {
  return subaccount ? `sub-account ${pyRepr(subaccount)}` : "main account";
}

/**
 * One account's leaf and path: [null, its leaf values] when right, else [why, null].
 * @param {SubaccountPath} entry @param {string} accountId @param {Params} params @param {bigint} root
 * @param {bigint} capacity @returns {[string | null, bigint[] | null]}
 */
function checkPath(entry, accountId, params, root, capacity) {
  if (entry.account.account_id !== accountId) {
    return [`wrong account: it is listed for account ${pyRepr(entry.account.account_id)} in the file of ${pyRepr(accountId)}`, null];
  }
  let values;
  try {
    values = leafValues(entry.account, params);
  } catch (problem) {
    if (!(problem instanceof ValueProblem)) throw problem;
    return [`wrong account: ${problem.message}`, null];
  }
  if ([entry.salt, entry.leaf, ...entry.siblings].some((x) => x >= FIELD_MODULUS)) {
    return ["wrong proof: a value is not a field element", null];
  }
  if (leafHash(accountKey(accountId, entry.salt, entry.account.subaccount), values) !== entry.leaf) {
    return ["wrong leaf: the account's id, salt and amounts do not hash to the leaf", null];
  }
  const depth = capacity.toString(2).length - 1;
  if (entry.siblings.length !== depth) {
    return [`wrong path: ${entry.siblings.length} siblings, but a tree of capacity ${capacity} has depth ${depth}`, null];
  }
  if (entry.leaf_index >= capacity) return ["wrong path: leaf index outside the capacity", null];
  let node = entry.leaf;
  let index = entry.leaf_index;
  for (const sibling of entry.siblings) {
    node = poseidon(index & 1n ? [sibling, node] : [node, sibling]);
    index >>= 1n;
  }
  if (node !== root) return ["wrong path: the Merkle path does not lead to the root", null];
  return [null, values];
}

/**
 * @typedef {{subaccount: string, valid: boolean, reason: string | null, account: Record<string, unknown> | null}} AccountResult
 * @typedef {{valid: boolean, reason: string | null, warnings: string[], account_id: string | null,
 *   epoch: string | null, root: string | null, capacity: string | null, params_hash: string | null,
 *   quote: string | null, subaccounts: AccountResult[]}} Result
 */

/**
 * Check a holder's inclusion file against a bundle's manifest, both as JSON text: every check of
 * inclusion.verify_inclusion (params, root, epoch, params hash, capacity, each account's leaf and
 * path). The result is inclusion.InclusionResult.document(), with what the manifest published.
 * @param {string} inclusionText @param {string} manifestText @returns {Result}
 */
export function verifyTexts(inclusionText, manifestText) {
  /** @type {Result} */
  const result = {
    valid: false,
    reason: null,
    warnings: [],
    account_id: null,
    epoch: null,
    root: null,
    capacity: null,
    params_hash: null,
    quote: null,
    subaccounts: [],
  };
  let manifest;
  try {
    manifest = readManifest(parseJson(manifestText));
  } catch (problem) {
    result.reason = `not a bundle manifest: ${/** @type {Error} */ (problem).message}`;
    return result;
  }
  Object.assign(result, {
    epoch: manifest.epoch,
    root: manifest.root.toString(),
    capacity: manifest.capacity.toString(),
    params_hash: manifest.params_hash.toString(),
  });
  let proof;
  try {
    proof = readInclusionFile(parseJson(inclusionText));
  } catch (problem) {
    result.reason = `not an inclusion file: ${/** @type {Error} */ (problem).message}`;
    return result;
  }
  result.account_id = proof.account_id;
  return verifyInclusion(proof, manifest, result);
}

/** @param {InclusionFile} proof @param {Manifest} manifest @param {Result} result @returns {Result} */
function verifyInclusion(proof, manifest, result) {
  let params;
  try {
    params = readParams(proof.params);
  } catch (problem) {
    if (!(problem instanceof ValueProblem)) throw problem;
    result.reason = `wrong params: ${problem.message}`;
    return result;
  }
  result.quote = params.quote;
  if (proof.root !== manifest.root) {
    result.reason = `wrong root: the proof is for root ${proof.rootText}, expected ${manifest.root}`;
    return result;
  }
  if (proof.epoch !== manifest.epoch) {
    result.reason = `wrong epoch: the proof is for ${proof.epoch}, expected ${manifest.epoch}`;
    return result;
  }
  if (proof.epoch !== params.epoch) {
    result.reason = "wrong epoch: the proof's epoch differs from its params' epoch";
    return result;
  }
  let hash;
  try {
    hash = paramsHash(params);
  } catch (problem) {
    if (!(problem instanceof ValueProblem)) throw problem;
    result.reason = `wrong params: ${problem.message}`;
    return result;
  }
  if (hash !== manifest.params_hash) {
    result.reason = "wrong params: they are not the published ones (params hash differs)";
    return result;
  }
  const capacity = manifest.capacity;
  if (capacity < 2n || (capacity & (capacity - 1n)) !== 0n) {
    result.reason = `wrong capacity: ${capacity} is not a power of two ≥ 2`;
    return result;
  }
  const names = proof.subaccounts.map((e) => e.account.subaccount);
  const twice = names.find((n, i) => names.indexOf(n) !== i);
  if (twice !== undefined) {
    result.reason = `wrong proof: the ${subaccountName(twice)} is listed twice`;
    return result;
  }
  for (const entry of proof.subaccounts) {
    const [reason, values] = checkPath(entry, proof.account_id, params, manifest.root, capacity);
    const sub = entry.account.subaccount;
    result.subaccounts.push({
      subaccount: sub,
      valid: reason === null,
      reason,
      account: values === null ? null : { ...accountDocument(params, proof.account_id, values, sub), ...marginStatus(values, params) },
    });
  }
  const failed = result.subaccounts.filter((e) => !e.valid);
  if (failed.length) {
    const first = failed[0];
    const named = result.subaccounts.length > 1 || first.subaccount !== "";
    let reason = named ? `${subaccountName(first.subaccount)}: ${first.reason}` : `${first.reason}`;
    if (failed.length > 1) {
      reason += ` (and ${failed.length - 1} more: ${failed.slice(1).map((e) => subaccountName(e.subaccount)).join(", ")})`;
    }
    result.reason = reason;
    return result;
  }
  result.valid = true;
  result.warnings.push(
    "this checks the accounts against the bundle's root; run `zksolv verify` on the bundle to check its proofs",
  );
  return result;
}
