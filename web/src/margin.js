// How the proofs counted one account: zksolv/margin.py's exact integer formulas (PROTOCOL.md §3),
// the same integers the circuit computes from the same leaf.

import { BPS, fromUnits } from "./exact.js";
import { slotPrices } from "./params.js";

/** @typedef {import("./params.js").Params} Params @typedef {import("./params.js").Market} Market */

const abs = (/** @type {bigint} */ x) => (x < 0n ? -x : x);

/** zksolv.margin.maintenance_margin: N·rate_t − deduction_t of the bracket t holding `notional`. */
function maintenanceMargin(/** @type {bigint} */ notional, /** @type {Market} */ market) {
  let bracket = market.brackets[0];
  for (const candidate of market.brackets.slice(1)) {
    if (notional < candidate.scaledFloor) break;
    bracket = candidate;
  }
  return notional * bracket.rate - bracket.deduction;
}

/**
 * zksolv.margin.maintenance_health: weighted collateral minus the maintenance requirement, in
 * 10^-S quote × 1/10000. @param {bigint[]} amounts @param {Params} params
 */
function maintenanceHealth(amounts, params) {
  let health = 0n;
  params.assets.forEach((asset, i) => {
    const weight = amounts[i] >= 0n ? asset.assetWeight : asset.liabilityWeight;
    health += amounts[i] * asset.scaledPrice * weight;
  });
  const k = params.assets.length;
  params.markets.forEach((market, j) => {
    const position = amounts[k + j];
    health += position * market.scaledPrice * BPS - maintenanceMargin(abs(position) * market.scaledPrice, market);
  });
  return health;
}

/**
 * zksolv.margin.scenario_health: health at one price vector; a cross-margined account also owes the
 * flat rate of every notional there (scenario shapes have no brackets).
 * @param {bigint[]} amounts @param {Params} params @param {bigint[]} prices @param {boolean} portfolio
 */
function scenarioHealth(amounts, params, prices, portfolio) {
  let health = 0n;
  params.assets.forEach((asset, i) => {
    const weight = amounts[i] >= 0n ? asset.assetWeight : asset.liabilityWeight;
    health += amounts[i] * prices[i] * weight;
  });
  const k = params.assets.length;
  params.markets.forEach((market, j) => {
    const position = amounts[k + j];
    health += position * prices[k + j] * BPS;
    if (!portfolio) health -= abs(position) * prices[k + j] * market.brackets[0].rate;
  });
  return health;
}

/**
 * zksolv.margin.account_health: a cross-margined account's maintenance health; a portfolio-margined
 * one's worst health over the published prices and every scenario.
 * @param {bigint[]} amounts @param {Params} params @param {boolean} portfolio
 */
export function accountHealth(amounts, params, portfolio) {
  if (!portfolio) return maintenanceHealth(amounts, params);
  const vectors = [slotPrices(params), ...params.scenarios.map((s) => s.prices)];
  return vectors.map((prices) => scenarioHealth(amounts, params, prices, true)).reduce((a, b) => (b < a ? b : a));
}

/** zksolv.margin.account_equity: Σ amount·price at the published prices, 10^-S quote. */
export function accountEquity(/** @type {bigint[]} */ amounts, /** @type {Params} */ params) {
  return slotPrices(params).reduce((sum, price, i) => sum + amounts[i] * price, 0n);
}

/**
 * zksolv.inclusion.margin_status of an account's leaf values (amounts, then with scenarios its margin
 * mode): below maintenance (health < 0) and bankrupt (equity < 0), with both figures in quote units.
 * @param {bigint[]} values @param {Params} params
 */
export function marginStatus(values, params) {
  const n = params.assets.length + params.markets.length;
  const amounts = values.slice(0, n);
  const portfolio = params.scenarios.length > 0 && values[n] !== 0n;
  const health = accountHealth(amounts, params, portfolio);
  const equity = accountEquity(amounts, params);
  return {
    maintenance_health: fromUnits(health, params.valueScale + 4),
    below_maintenance: health < 0n,
    equity: fromUnits(equity, params.valueScale),
    bankrupt: equity < 0n,
  };
}
