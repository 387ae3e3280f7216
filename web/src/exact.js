// Exact integers and decimal strings, as zksolv/field.py and zksolv/units.py define them.
//
// Everything is BigInt: a balance, a price or a health figure never goes through a float, so the
// page shows the very integers the leaf hashes and the circuit counts.

export const FIELD_MODULUS = 21888242871839275222246405745257275088548364400416034343698204186575808495617n;
export const AMOUNT_BITS = 64n;
export const AMOUNT_OFFSET = 1n << (AMOUNT_BITS - 1n); // a signed amount x is hashed as x + 2^63
export const AMOUNT_MIN = -AMOUNT_OFFSET;
export const AMOUNT_MAX = AMOUNT_OFFSET - 1n;
export const PACK_PER_ELEMENT = 3; // 3 × 64-bit offsets per field element
export const BPS = 10000n;

/** A problem with one value of a file: the message the page shows, prefixed by where it is. */
export class ValueProblem extends Error {}

const CANONICAL_UINT = /^(0|[1-9][0-9]*)$/;

/**
 * `text` as a BigInt in [0, bound) when it is the one canonical spelling (ASCII digits, no sign,
 * no leading zero), as zksolv.field.parse_canonical_uint; otherwise a ValueProblem.
 * @param {unknown} text @param {bigint} bound @param {string} what @returns {bigint}
 */
export function parseCanonicalUint(text, bound, what) {
  if (typeof text !== "string" || !CANONICAL_UINT.test(text)) {
    throw new ValueProblem(`${what}: expected a decimal string (ASCII digits, no sign, no leading zeros)`);
  }
  const value = BigInt(text);
  if (value >= bound) throw new ValueProblem(`${what}: ${text.slice(0, 20)}… is not below ${bound}`);
  return value;
}

/** @param {unknown} text @param {string} what @returns {bigint} a canonical field element */
export function parseFieldText(text, what) {
  return parseCanonicalUint(text, FIELD_MODULUS, what);
}

// Python's str.strip() removes exactly the characters str.isspace() accepts; String.trim() removes
// another set (it keeps U+001C–U+001F and U+0085, and removes U+FEFF), so strip the Python set.
const PY_SPACE = "\\t\\n\\x0b\\x0c\\r\\x1c-\\x1f \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000";
const PY_STRIP = new RegExp(`^[${PY_SPACE}]+|[${PY_SPACE}]+$`, "g");

/** @param {string} text @returns {string} as Python's text.strip() */
export function pyStrip(text) {
  return text.replace(PY_STRIP, "");
}

// zksolv.units._DECIMAL: ASCII digits only ([0-9], not \d), an optional sign, "1", "1.5" or ".5".
const DECIMAL = /^([+-]?)(?:([0-9]+)(?:\.([0-9]+))?|\.([0-9]+))$/;

/**
 * zksolv.units.split_decimal: [sign, whole digits, fraction digits without trailing zeros].
 * @param {string} text @returns {[bigint, string, string]}
 */
export function splitDecimal(text) {
  const match = typeof text === "string" ? DECIMAL.exec(pyStrip(text)) : null;
  if (!match) throw new ValueProblem(`not a decimal number: ${pyRepr(text)}`);
  const whole = match[2] !== undefined ? match[2] : "0";
  const frac = (match[2] !== undefined ? match[3] || "" : match[4]).replace(/0+$/, "");
  return [match[1] === "-" ? -1n : 1n, whole, frac];
}

/** @param {string} text @returns {number} significant fraction digits ("1.50" → 1) */
export function fractionDigits(text) {
  return splitDecimal(text)[2].length;
}

/**
 * zksolv.units.to_units: a decimal string as a count of 10^-decimals units, exactly.
 * @param {string} text @param {number} decimals @returns {bigint}
 */
export function toUnits(text, decimals) {
  const [sign, whole, frac] = splitDecimal(text);
  if (frac.length > decimals) {
    throw new ValueProblem(`${pyRepr(pyStrip(text))} has more than ${decimals} decimals`);
  }
  return sign * BigInt(whole + frac.padEnd(decimals, "0"));
}

/**
 * zksolv.units.from_units: a count of 10^-decimals units as the shortest exact decimal string.
 * @param {bigint} units @param {number} decimals @returns {string}
 */
export function fromUnits(units, decimals) {
  const sign = units < 0n ? "-" : "";
  const digits = (units < 0n ? -units : units).toString().padStart(decimals + 1, "0");
  const whole = decimals ? digits.slice(0, -decimals) : digits;
  const frac = decimals ? digits.slice(-decimals).replace(/0+$/, "") : "";
  return frac ? `${sign}${whole}.${frac}` : `${sign}${whole}`;
}

/** zksolv.units.normalize: the canonical spelling of a decimal string. @param {string} text */
export function normalize(text) {
  const [sign, whole, frac] = splitDecimal(text);
  return fromUnits(sign * BigInt(whole + frac), frac.length);
}

/**
 * An exact decimal string as a fraction [numerator, 10^k] (the denominator a power of ten > 0).
 * @param {string} text @returns {[bigint, bigint]}
 */
export function exactFraction(text) {
  const [sign, whole, frac] = splitDecimal(text);
  return [sign * BigInt(whole + frac), 10n ** BigInt(frac.length)];
}

/** floor(a / b) for b > 0 (BigInt division truncates toward zero). @param {bigint} a @param {bigint} b */
export function floorDiv(a, b) {
  const q = a / b;
  return a % b !== 0n && a < 0n ? q - 1n : q;
}

/** zksolv.scenarios.round_half_up of n/d (d > 0): floor(n/d + 1/2). @param {bigint} n @param {bigint} d */
export function roundHalfUp(n, d) {
  return floorDiv(2n * n + d, 2n * d);
}

/**
 * zksolv.field.pack_amounts: signed 64-bit amounts as offsets, 3 per field element.
 * @param {bigint[]} amounts @returns {bigint[]}
 */
export function packAmounts(amounts) {
  const packed = [];
  for (let start = 0; start < amounts.length; start += PACK_PER_ELEMENT) {
    let element = 0n;
    amounts.slice(start, start + PACK_PER_ELEMENT).forEach((amount, i) => {
      element += (amount + AMOUNT_OFFSET) << (AMOUNT_BITS * BigInt(i));
    });
    packed.push(element);
  }
  return packed;
}

/** Big-endian bytes as a BigInt. @param {Uint8Array} bytes @returns {bigint} */
export function bytesToBigInt(bytes) {
  let hex = "0x0";
  for (const b of bytes) hex += b.toString(16).padStart(2, "0");
  return BigInt(hex);
}

/** A string as Python's repr() spells it in messages (quotes and the common escapes). @param {unknown} value */
export function pyRepr(value) {
  if (typeof value !== "string") return String(value);
  const quote = value.includes("'") && !value.includes('"') ? '"' : "'";
  const body = value.replace(/[\\\n\r\t]/g, (c) => ({ "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t" })[c]);
  return quote + (quote === "'" ? body.replace(/'/g, "\\'") : body) + quote;
}

/** Python's len() of a string: code points, not UTF-16 units. @param {string} text */
export function codePointLength(text) {
  let n = 0;
  for (const _ of text) n += 1;
  return n;
}

/** Compare strings by code points, as Python sorts them (JS compares UTF-16 units). */
export function compareCodePoints(/** @type {string} */ a, /** @type {string} */ b) {
  const x = Array.from(a, (c) => c.codePointAt(0) ?? 0);
  const y = Array.from(b, (c) => c.codePointAt(0) ?? 0);
  for (let i = 0; i < Math.min(x.length, y.length); i++) if (x[i] !== y[i]) return x[i] - y[i];
  return x.length - y.length;
}

/** True when the string holds a lone surrogate (not encodable as UTF-8; Python refuses it). */
export function hasLoneSurrogate(/** @type {string} */ text) {
  return /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/.test(text);
}
