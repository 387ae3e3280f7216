// The params an inclusion file carries, read as zksolv/params.py reads published params: prices as
// exact integers at the common value scale, maintenance brackets, scenario prices, and the params
// hash the bundle's manifest publishes (PROTOCOL.md §2, §3, §5).
//
// The page recomputes the params hash from the file's params and requires the manifest's: the hash
// binds every symbol, decimal, price, weight, bracket and scenario price (through the SHA-256 of the
// canonical JSON, and directly as field elements), so once it matches, the numbers below are the
// ones the venue's proofs used. What the page does not redo is how two kinds of published number
// were derived: an oracle-derived price from its price_source data, and an option's Black–Scholes
// value and risk array (zksolv/options.py, at 60 digits of mpmath). It takes them as published;
// they are in the hashed params, and `zksolv verify` on the bundle recomputes both.

import {
  BPS,
  ValueProblem,
  codePointLength,
  compareCodePoints,
  exactFraction,
  fractionDigits,
  hasLoneSurrogate,
  normalize,
  roundHalfUp,
  splitDecimal,
  toUnits,
  bytesToBigInt,
} from "./exact.js";
import { hashChain } from "./poseidon.js";
import { sha256 } from "./sha256.js";

const PARAMS_TAG = bytesToBigInt(new TextEncoder().encode("zksolv.params.v1"));
const PRICE_LIMIT = 1n << 64n;
const NOTIONAL_BITS = 127n;
const WEIGHT_LIMIT = 1 << 16;
const MAX_SLOTS = 15;
const MAX_BRACKETS = 32;
const MAX_SCENARIOS = 64;
const SYMBOL = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;
// Column names of the accounts file, which zksolv.params.ParamsFile refuses as symbols.
const RESERVED = ["account_id", "subaccount", "margin_mode"];
const CONTROL = /[\x00-\x1f\x7f]/;

/** Python's `X | None` fields: JSON null is the same as leaving the key out. */
const given = (/** @type {unknown} */ value) => value !== undefined && value !== null;

// The keys each object of published params may have (pydantic's extra="forbid"), by object.
const KEYS = {
  params: ["epoch", "quote", "assets", "markets", "insurance_fund", "balanced_markets", "options", "scenarios"],
  asset: ["symbol", "decimals", "price", "price_source", "asset_weight_bps", "liability_weight_bps", "rounding"],
  market: [
    "symbol",
    "decimals",
    "mark_price",
    "mark_price_source",
    "maintenance_margin_bps",
    "brackets",
    "entry_cost_decimals",
  ],
  bracket: ["notional_floor", "maintenance_margin_bps"],
  option: [
    "symbol",
    "decimals",
    "underlying",
    "kind",
    "strike",
    "expiry",
    "implied_volatility",
    "interest_rate",
    "value",
    "risk_array",
  ],
  scenario: ["name", "shocks", "volatility_shock", "weight"],
};

/** Where in the params a value is, for messages: "markets[0] (BTC-PERP).mark_price". */
class Path {
  /** @param {string} text */
  constructor(text) {
    this.text = text;
  }
  /** @param {string | number} key @param {unknown} [item] */
  at(key, item) {
    if (typeof key === "number") {
      const symbol = item && typeof item === "object" && typeof item.symbol === "string" ? ` (${item.symbol})` : "";
      return new Path(`${this.text}[${key}]${symbol}`);
    }
    return new Path(this.text ? `${this.text}.${key}` : key);
  }
  /** @param {string} message */
  problem(message) {
    return new ValueProblem(this.text ? `${this.text}: ${message}` : message);
  }
}

/** @param {unknown} value @param {Path} path @param {string} kind @returns {Record<string, unknown>} */
function object(value, path, kind) {
  if (value === null || typeof value !== "object" || Array.isArray(value)) throw path.problem("expected an object");
  const unknown = Object.keys(value).filter((k) => !KEYS[kind].includes(k));
  if (unknown.length) throw path.problem(`unknown field ${unknown[0]}`);
  return /** @type {Record<string, unknown>} */ (value);
}

/** A JSON object with any keys (a symbol → value map). @param {unknown} value @param {Path} path */
function mapping(value, path) {
  if (value === null || typeof value !== "object" || Array.isArray(value)) throw path.problem("expected an object");
  return /** @type {Record<string, unknown>} */ (value);
}

/** @param {unknown} value @param {Path} path @returns {unknown[]} */
function list(value, path) {
  if (!Array.isArray(value)) throw path.problem("expected a list");
  return value;
}

/** @param {unknown} value @param {Path} path @returns {string} */
function text(value, path) {
  if (typeof value !== "string") throw path.problem("expected a string");
  return value;
}

/** A JSON integer (the page parses integers as BigInt, never float) within [lo, hi]. @returns {number} */
function integer(/** @type {unknown} */ value, /** @type {Path} */ path, /** @type {number} */ lo, /** @type {number} */ hi) {
  if (typeof value !== "bigint") throw path.problem("expected an integer");
  if (value < BigInt(lo) || value > BigInt(hi)) throw path.problem(`must be ${lo} to ${hi}`);
  return Number(value);
}

/** A symbol of published params. @returns {string} */
function symbol(/** @type {unknown} */ value, /** @type {Path} */ path) {
  const s = text(value, path);
  if (codePointLength(s) > 32 || !SYMBOL.test(s)) throw path.problem(`${JSON.stringify(s)} is not a symbol`);
  return s;
}

/** An exact decimal in the one spelling published params hash (zksolv.oracle.check_price, canonical). */
function canonicalDecimal(/** @type {unknown} */ value, /** @type {Path} */ path, nonNegative = true) {
  const s = text(value, path);
  let canonical;
  try {
    canonical = normalize(s);
  } catch (problem) {
    throw path.problem(/** @type {Error} */ (problem).message);
  }
  if (s !== canonical) throw path.problem(`${JSON.stringify(s)} is not in canonical form (published params write ${canonical})`);
  if (nonNegative && s.startsWith("-")) throw path.problem(`negative ${JSON.stringify(s)}`);
  return s;
}

/** zksolv.params._check_relative: a canonical decimal above −1 (no price or volatility below 0). */
function relativeChange(/** @type {unknown} */ value, /** @type {Path} */ path) {
  const s = canonicalDecimal(value, path, false);
  const [n, d] = exactFraction(s);
  if (n <= -d) throw path.problem(`${JSON.stringify(s)} must be above -1 (a price or volatility cannot fall below 0)`);
  return s;
}

// zksolv.timestamps.epoch_seconds accepts what datetime.fromisoformat does, in UTC and whole seconds;
// the page reads the extended form (date, T or space, time, Z or a zero offset), which is what zksolv
// and venues write, and refuses anything else rather than guess.
const TIMESTAMP =
  /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2})(?::(\d{2})(?::(\d{2})(?:\.(\d{1,6}))?)?)?(Z|[+-]00:00(?::00(?:\.0{1,6})?)?)$/;

/** ISO-8601 UTC timestamp → Unix seconds (BigInt). @param {string} value @param {Path} path */
export function epochSeconds(value, path) {
  const m = TIMESTAMP.exec(value);
  if (!m) throw path.problem(`${JSON.stringify(value)} is not an ISO-8601 UTC timestamp`);
  if (m[7] && /[1-9]/.test(m[7])) throw path.problem(`${JSON.stringify(value)} must be whole seconds`);
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map((x) => Number(x || 0));
  const ms = Date.UTC(year, month - 1, day, hour, minute, second);
  const back = new Date(ms);
  if (
    back.getUTCFullYear() !== year ||
    back.getUTCMonth() !== month - 1 ||
    back.getUTCDate() !== day ||
    hour > 23 ||
    minute > 59 ||
    second > 59
  ) {
    throw path.problem(`${JSON.stringify(value)} is not an ISO-8601 timestamp`);
  }
  if (ms < 0) throw path.problem(`${JSON.stringify(value)} is before 1970`);
  return BigInt(ms / 1000);
}

/**
 * JSON text of a value as Python's json.dumps(value, sort_keys=True, separators=(",", ":"),
 * ensure_ascii=False) writes it: zksolv.params.canonical_params_json, whose SHA-256 is the params'
 * meta element. Integers are BigInt here (they were parsed exactly).
 * @param {unknown} value @returns {string}
 */
export function canonicalJson(value) {
  if (value === null || typeof value === "boolean") return String(value);
  if (typeof value === "bigint") return value.toString();
  if (typeof value === "string") {
    if (hasLoneSurrogate(value)) throw new ValueProblem("a string holds a lone surrogate (not UTF-8 text)");
    // JSON.stringify escapes exactly what Python's encoder does once ensure_ascii is off: the quote,
    // the backslash, \b \f \n \r \t, and the other control characters as \u00xx.
    return JSON.stringify(value);
  }
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (typeof value === "object") {
    const keys = Object.keys(value).sort(compareCodePoints);
    return `{${keys.map((k) => `${canonicalJson(k)}:${canonicalJson(/** @type {any} */ (value)[k])}`).join(",")}}`;
  }
  throw new ValueProblem("a number that is not an integer (published params hold integers and decimal strings)");
}

/**
 * @typedef {{symbol: string, decimals: number, scaledPrice: bigint, assetWeight: bigint,
 *   liabilityWeight: bigint, costOf: string | null}} Asset
 * @typedef {{scaledFloor: bigint, rate: bigint, deduction: bigint}} Bracket
 * @typedef {{symbol: string, decimals: number, scaledPrice: bigint, brackets: Bracket[], option: boolean,
 *   entryCostDecimals: number | null}} Market
 * @typedef {{name: string, prices: bigint[]}} Scenario
 * @typedef {{epoch: string, epochSeconds: bigint, quote: string, valueScale: number, assets: Asset[],
 *   markets: Market[], scenarios: Scenario[], insuranceFund: string | null, balancedMarkets: boolean,
 *   document: object}} Params  (document: zksolv.params.params_document of them, what params_meta hashes)
 */

/** The price of `decimals`-unit amounts at the value scale, below 2^64 (params_from_model's `scaled`). */
function scaled(/** @type {string} */ price, /** @type {number} */ decimals, /** @type {number} */ valueScale, /** @type {Path} */ path) {
  const [, whole, frac] = splitDecimal(price);
  const value = BigInt(whole + frac) * 10n ** BigInt(valueScale - decimals - frac.length);
  if (value >= PRICE_LIMIT) {
    throw path.problem(`price ${price} at value scale 10^-${valueScale} is ${value}, not below 2^64`);
  }
  return value;
}

/**
 * Read published params (an inclusion file's "params") as zksolv.params.parse_params does with
 * canonical=True, as far as the page needs them. ValueProblem naming the field when they are not.
 * @param {unknown} document @returns {Params}
 */
export function readParams(document) {
  const root = new Path("");
  const doc = object(document, root, "params");
  for (const key of ["epoch", "quote", "assets", "markets"]) {
    if (!(key in doc)) throw root.problem(`${key} is required`);
  }
  const epoch = text(doc.epoch, root.at("epoch"));
  const seconds = epochSeconds(epoch, root.at("epoch"));
  const quote = text(doc.quote, root.at("quote"));
  if (codePointLength(quote) < 1 || codePointLength(quote) > 16) throw root.at("quote").problem("must be 1 to 16 characters");

  const assetDocs = list(doc.assets, root.at("assets")).map((a, i) => {
    const path = root.at("assets").at(i, a);
    const spec = object(a, path, "asset");
    const rounding = spec.rounding === undefined ? "exact" : text(spec.rounding, path.at("rounding"));
    if (rounding !== "exact" && rounding !== "down") throw path.at("rounding").problem("must be exact or down");
    return {
      path,
      symbol: symbol(spec.symbol, path.at("symbol")),
      decimals: integer(spec.decimals, path.at("decimals"), 0, 30),
      price: canonicalDecimal(spec.price, path.at("price")),
      assetWeight: integer(spec.asset_weight_bps, path.at("asset_weight_bps"), 0, 10000),
      liabilityWeight: integer(spec.liability_weight_bps, path.at("liability_weight_bps"), 10000, WEIGHT_LIMIT - 1),
      priceSource: given(spec.price_source) ? spec.price_source : null,
      rounding,
    };
  });
  const marketDocs = list(doc.markets, root.at("markets")).map((m, i) => {
    const path = root.at("markets").at(i, m);
    const spec = object(m, path, "market");
    const flat = spec.maintenance_margin_bps;
    if (given(flat) === given(spec.brackets)) {
      throw path.problem("give exactly one of maintenance_margin_bps (a flat rate) and brackets");
    }
    const brackets =
      !given(spec.brackets)
        ? [{ floor: "0", rate: integer(flat, path.at("maintenance_margin_bps"), 0, 10000) }]
        : list(spec.brackets, path.at("brackets")).map((b, j) => {
            const bpath = path.at("brackets").at(j);
            const bracket = object(b, bpath, "bracket");
            return {
              floor: canonicalDecimal(bracket.notional_floor, bpath.at("notional_floor")),
              rate: integer(bracket.maintenance_margin_bps, bpath.at("maintenance_margin_bps"), 0, 10000),
            };
          });
    if (brackets.length < 1 || brackets.length > MAX_BRACKETS) throw path.at("brackets").problem(`1 to ${MAX_BRACKETS} brackets`);
    return {
      path,
      symbol: symbol(spec.symbol, path.at("symbol")),
      decimals: integer(spec.decimals, path.at("decimals"), 0, 30),
      price: canonicalDecimal(spec.mark_price, path.at("mark_price")),
      priceSource: given(spec.mark_price_source) ? spec.mark_price_source : null,
      brackets,
      entryCostDecimals: given(spec.entry_cost_decimals)
        ? integer(spec.entry_cost_decimals, path.at("entry_cost_decimals"), 0, 18)
        : null,
    };
  });
  const scenarioDocs = list(doc.scenarios === undefined ? [] : doc.scenarios, root.at("scenarios")).map((s, i) => {
    const path = root.at("scenarios").at(i);
    const spec = object(s, path, "scenario");
    const shocks = mapping(spec.shocks === undefined ? {} : spec.shocks, path.at("shocks"));
    const name = text(spec.name, path.at("name"));
    if (codePointLength(name) < 1 || codePointLength(name) > 64 || CONTROL.test(name)) {
      throw path.at("name").problem("must be 1 to 64 characters without control characters");
    }
    const weight = canonicalDecimal(spec.weight === undefined ? "1" : spec.weight, path.at("weight"));
    const [wn, wd] = exactFraction(weight);
    if (wn <= 0n || wn > wd) throw path.at("weight").problem(`weight ${JSON.stringify(weight)} must be above 0 and at most 1`);
    const shockTexts = Object.entries(shocks).map(([sym, v]) => [sym, relativeChange(v, path.at("shocks").at(sym))]);
    return {
      path,
      name,
      shockTexts: Object.fromEntries(shockTexts),
      shocks: new Map(shockTexts.map(([sym, v]) => [sym, exactFraction(v)])),
      volatilityShock: relativeChange(spec.volatility_shock === undefined ? "0" : spec.volatility_shock, path.at("volatility_shock")),
      weight,
      weightFraction: [wn, wd],
    };
  });
  if (scenarioDocs.length > MAX_SCENARIOS) throw root.at("scenarios").problem(`at most ${MAX_SCENARIOS} scenarios`);
  const optionDocs = list(doc.options === undefined ? [] : doc.options, root.at("options")).map((o, i) => {
    const path = root.at("options").at(i, o);
    const spec = object(o, path, "option");
    if (spec.value === undefined || spec.risk_array === undefined) {
      throw path.problem("published params must write value and risk_array");
    }
    const riskArray = list(spec.risk_array, path.at("risk_array")).map((r, s) => canonicalDecimal(r, path.at("risk_array").at(s)));
    if (riskArray.length !== scenarioDocs.length) {
      throw path.at("risk_array").problem(`${riskArray.length} entries for ${scenarioDocs.length} scenarios`);
    }
    const kind = text(spec.kind, path.at("kind"));
    if (kind !== "call" && kind !== "put") throw path.at("kind").problem("must be call or put");
    const strike = canonicalDecimal(spec.strike, path.at("strike"));
    if (exactFraction(strike)[0] === 0n) throw path.at("strike").problem("strike must be above 0");
    const expiry = text(spec.expiry, path.at("expiry"));
    epochSeconds(expiry, path.at("expiry"));
    return {
      path,
      symbol: symbol(spec.symbol, path.at("symbol")),
      decimals: integer(spec.decimals, path.at("decimals"), 0, 30),
      underlying: symbol(spec.underlying, path.at("underlying")),
      kind,
      strike,
      expiry,
      impliedVolatility: canonicalDecimal(spec.implied_volatility, path.at("implied_volatility")),
      interestRate: canonicalDecimal(spec.interest_rate === undefined ? "0" : spec.interest_rate, path.at("interest_rate"), false),
      value: canonicalDecimal(spec.value, path.at("value")),
      riskArray,
    };
  });
  if (optionDocs.length && !scenarioDocs.length) throw root.at("options").problem("options need scenarios");
  const symbols = [...assetDocs, ...marketDocs, ...optionDocs].map((x) => x.symbol);
  const reserved = symbols.find((s) => RESERVED.includes(s));
  if (reserved !== undefined) throw root.problem(`${reserved} cannot be a symbol: it names a column of the accounts file`);
  const twice = symbols.find((s, i) => symbols.indexOf(s) !== i);
  if (twice !== undefined) throw root.problem(`symbols must be unique across assets and markets: ${twice}`);
  const linear = new Set([...assetDocs, ...marketDocs].map((x) => x.symbol));
  for (const o of optionDocs) {
    if (!linear.has(o.underlying)) throw o.path.at("underlying").problem(`${JSON.stringify(o.underlying)} is no asset or market`);
  }
  const costed = marketDocs.filter((m) => m.entryCostDecimals !== null);
  const nSlots = assetDocs.length + costed.length + marketDocs.length + optionDocs.length;
  if (nSlots < 1 || nSlots > MAX_SLOTS) throw root.problem(`${nSlots} slots: need 1 to ${MAX_SLOTS}`);
  const insuranceFund = given(doc.insurance_fund) ? canonicalDecimal(doc.insurance_fund, root.at("insurance_fund")) : null;
  const balanced = doc.balanced_markets === undefined ? false : doc.balanced_markets;
  if (typeof balanced !== "boolean") throw root.at("balanced_markets").problem("expected true or false");

  // The value scale S: every price an integer in units of 10^-S quote per base unit (PROTOCOL.md §2).
  const valueScale = Math.max(
    ...assetDocs.map((a) => a.decimals + fractionDigits(a.price)),
    ...marketDocs.map((m) => m.decimals + fractionDigits(m.price)),
    ...costed.map((m) => /** @type {number} */ (m.entryCostDecimals)),
  );

  /** @type {Asset[]} */
  const assets = assetDocs.map((a) => ({
    symbol: a.symbol,
    decimals: a.decimals,
    scaledPrice: scaled(a.price, a.decimals, valueScale, a.path.at("price")),
    assetWeight: BigInt(a.assetWeight),
    liabilityWeight: BigInt(a.liabilityWeight),
    costOf: null,
  }));
  // A position's entry cost (format 6, PROTOCOL.md §3.4) is one more quote-valued slot after the real
  // assets, market by market: price 1 at its decimals, counted in full both ways (weights 10000); the
  // leaf holds −cost, so equity and health lose exactly the cost.
  for (const m of costed) {
    const d = /** @type {number} */ (m.entryCostDecimals);
    assets.push({
      symbol: `${m.symbol}:entry_cost`,
      decimals: d,
      scaledPrice: 10n ** BigInt(valueScale - d),
      assetWeight: BPS,
      liabilityWeight: BPS,
      costOf: m.symbol,
    });
  }
  /** @type {Market[]} */
  const markets = marketDocs.map((m) => ({
    symbol: m.symbol,
    decimals: m.decimals,
    scaledPrice: scaled(m.price, m.decimals, valueScale, m.path.at("mark_price")),
    brackets: scaledBrackets(m.brackets, valueScale, m.path),
    option: false,
    entryCostDecimals: m.entryCostDecimals,
  }));
  // Option series follow the perpetual markets; an option's mark is its published value (rate 0).
  const optionAtoms = optionDocs.map((o) => {
    const places = valueScale - o.decimals;
    if (places < 0) throw o.path.at("decimals").problem(`${o.decimals} decimals exceed the value scale ${valueScale}`);
    const atoms = (/** @type {string} */ v, /** @type {Path} */ p) => {
      const units = toUnits(v, places);
      if (units >= PRICE_LIMIT) throw p.problem(`${v} is not below 2^64 atoms`);
      return units;
    };
    markets.push({
      symbol: o.symbol,
      decimals: o.decimals,
      scaledPrice: atoms(o.value, o.path.at("value")),
      brackets: [{ scaledFloor: 0n, rate: 0n, deduction: 0n }],
      option: true,
      entryCostDecimals: null,
    });
    return o.riskArray.map((r, s) => atoms(r, o.path.at("risk_array").at(s)));
  });
  const firstOption = markets.length - optionDocs.length;
  /** @type {Scenario[]} */
  const scenarios = scenarioDocs.map((spec, s) => {
    for (const sym of spec.shocks.keys()) {
      if (!linear.has(sym)) throw spec.path.at("shocks").problem(`${sym} is not an asset or market`);
    }
    const [wn, wd] = spec.weightFraction;
    // zksolv.scenarios.scenario_value: P_s = P + round(w · (P·(1 + shock) − P)) = P + round(w·P·shock).
    const moved = (/** @type {bigint} */ base, /** @type {string} */ sym) => {
      const [sn, sd] = spec.shocks.get(sym) ?? [0n, 1n];
      return base + roundHalfUp(wn * base * sn, wd * sd);
    };
    const prices = [
      ...assets.map((a) => moved(a.scaledPrice, a.symbol)), // an entry-cost slot is never shocked
      ...markets.slice(0, firstOption).map((m) => moved(m.scaledPrice, m.symbol)),
      ...optionAtoms.map((atoms) => atoms[s]),
    ];
    prices.forEach((p, i) => {
      if (p >= PRICE_LIMIT || p < 0n) throw spec.path.problem(`the price of slot ${i} is not in [0, 2^64)`);
    });
    return { name: spec.name, prices };
  });
  const names = scenarios.map((s) => s.name);
  if (names.some((n, i) => names.indexOf(n) !== i)) throw root.at("scenarios").problem("scenario names must be unique");
  if (scenarios.length && markets.some((m) => m.brackets.length > 1)) {
    throw root.problem("scenarios cannot be combined with maintenance brackets");
  }
  // What params_meta hashes is zksolv.params.params_document of the params, not the file's own JSON:
  // defaults written out, nulls and unset flags left out, a one-bracket schedule as its flat rate. So
  // a file that spells the same params otherwise ("rounding": "exact", "price_source": null, no
  // "weight") hashes as zksolv hashes it.
  /** @type {Record<string, unknown>} */
  const canonical = {
    epoch,
    quote,
    assets: assetDocs.map((a) => ({
      symbol: a.symbol,
      decimals: BigInt(a.decimals),
      price: a.price,
      asset_weight_bps: BigInt(a.assetWeight),
      liability_weight_bps: BigInt(a.liabilityWeight),
      ...(a.priceSource !== null ? { price_source: a.priceSource } : {}),
      ...(a.rounding !== "exact" ? { rounding: a.rounding } : {}),
    })),
    markets: marketDocs.map((m) => ({
      symbol: m.symbol,
      decimals: BigInt(m.decimals),
      mark_price: m.price,
      ...(m.priceSource !== null ? { mark_price_source: m.priceSource } : {}),
      ...(m.brackets.length > 1
        ? { brackets: m.brackets.map((b) => ({ notional_floor: b.floor, maintenance_margin_bps: BigInt(b.rate) })) }
        : { maintenance_margin_bps: BigInt(m.brackets[0].rate) }),
      ...(m.entryCostDecimals !== null ? { entry_cost_decimals: BigInt(m.entryCostDecimals) } : {}),
    })),
  };
  if (insuranceFund !== null) canonical.insurance_fund = insuranceFund;
  if (balanced) canonical.balanced_markets = true;
  if (optionDocs.length) {
    canonical.options = optionDocs.map((o) => ({
      symbol: o.symbol,
      decimals: BigInt(o.decimals),
      underlying: o.underlying,
      kind: o.kind,
      strike: o.strike,
      expiry: o.expiry,
      implied_volatility: o.impliedVolatility,
      interest_rate: o.interestRate,
      value: o.value,
      risk_array: o.riskArray,
    }));
  }
  if (scenarioDocs.length) {
    canonical.scenarios = scenarioDocs.map((s) => ({
      name: s.name,
      shocks: s.shockTexts,
      volatility_shock: s.volatilityShock,
      weight: s.weight,
    }));
  }
  return {
    epoch,
    epochSeconds: seconds,
    quote,
    valueScale,
    assets,
    markets,
    scenarios,
    insuranceFund,
    balancedMarkets: balanced,
    document: canonical,
  };
}

/**
 * Brackets at the value scale with their deductions (params_from_model's `brackets`, PROTOCOL.md §3.1):
 * the first floor 0, floors strictly increasing, rates never falling.
 * @param {{floor: string, rate: number}[]} specs @param {number} valueScale @param {Path} path @returns {Bracket[]}
 */
function scaledBrackets(specs, valueScale, path) {
  /** @type {Bracket[]} */
  const out = [];
  specs.forEach((spec, i) => {
    const [, whole, frac] = splitDecimal(spec.floor);
    const at = path.at("brackets").at(i).at("notional_floor");
    if (frac.length > valueScale) throw at.problem(`has more than the value scale's ${valueScale} fraction digits`);
    const floor = BigInt(whole + frac) * 10n ** BigInt(valueScale - frac.length);
    if (floor >= 1n << NOTIONAL_BITS) throw at.problem(`not below 2^${NOTIONAL_BITS}`);
    const rate = BigInt(spec.rate);
    const before = out.length ? out[out.length - 1] : { scaledFloor: 0n, rate: 0n, deduction: 0n };
    if (i === 0 && floor !== 0n) throw at.problem("the first bracket's notional_floor must be 0");
    if (i > 0 && floor <= before.scaledFloor) throw at.problem(`must be above brackets[${i - 1}]'s`);
    if (i > 0 && rate < before.rate) throw path.at("brackets").at(i).problem("the rate must not fall");
    out.push({ scaledFloor: floor, rate, deduction: before.deduction + floor * (rate - before.rate) });
  });
  return out;
}

/** zksolv.params.params_meta: SHA-256 of the canonical params JSON, in the field (>> 8). @param {Params} params */
export function paramsMeta(params) {
  return bytesToBigInt(sha256(new TextEncoder().encode(canonicalJson(params.document)))) >> 8n;
}

/** zksolv.params.params_field_elements: what the circuit hashes into params_hash (PROTOCOL.md §5). @param {Params} params */
export function paramsFieldElements(params) {
  const assets = params.assets.map((a) => a.scaledPrice + (a.assetWeight << 64n) + (a.liabilityWeight << 80n));
  // With scenarios each market also carries its option kind at bit 78.
  const kindShift = params.scenarios.length ? 78n : null;
  const markets = params.markets.map(
    (m) => m.scaledPrice + (m.brackets[0].rate << 64n) + (kindShift !== null && m.option ? 1n << kindShift : 0n),
  );
  const brackets = params.markets.flatMap((m) => m.brackets.slice(1)).map((b) => b.scaledFloor + (b.rate << NOTIONAL_BITS));
  const prices = params.scenarios.flatMap((s) => s.prices);
  const packed = [];
  for (let j = 0; j < prices.length; j += 3) {
    packed.push(prices.slice(j, j + 3).reduce((sum, p, t) => sum + (p << (64n * BigInt(t))), 0n));
  }
  return [PARAMS_TAG, paramsMeta(params), params.epochSeconds, ...assets, ...markets, ...brackets, ...packed];
}

/** zksolv.params.params_hash. @param {Params} params @returns {bigint} */
export function paramsHash(params) {
  return hashChain(paramsFieldElements(params));
}

/** Every slot's published price (assets with entry-cost slots, then markets and options). @param {Params} params */
export function slotPrices(params) {
  return [...params.assets.map((a) => a.scaledPrice), ...params.markets.map((m) => m.scaledPrice)];
}
