// Entry point of the holders' page (web/build.mjs bundles it into web/dist/inclusion.html).
//
// window.zksolv gives the checks to anyone with the browser console open (and to
// tests/test_browser.py): every function takes and returns plain strings and JSON text, so a result
// can be compared with zksolv's own.

import { BUNDLE_FORMAT, INCLUSION_FORMAT, accountIdField, accountKey, leafHash, leafValues, parseJson, readInclusionFile, verifyTexts } from "./inclusion.js";
import { marginStatus } from "./margin.js";
import { paramsHash, readParams } from "./params.js";
import { poseidon } from "./poseidon.js";
import { sha256, toHex } from "./sha256.js";
import { start } from "./ui.js";

const strings = (/** @type {bigint[]} */ values) => values.map((v) => v.toString());

/** The leaf values of the file's accounts, under its params (the leaf value rule), as decimal strings. */
function fileLeafValues(/** @type {string} */ inclusionText) {
  const file = readInclusionFile(parseJson(inclusionText));
  const params = readParams(file.params);
  return file.subaccounts.map((entry) => strings(leafValues(entry.account, params)));
}

/** @type {any} */ (window).zksolv = Object.freeze({
  INCLUSION_FORMAT,
  BUNDLE_FORMAT,
  verify: verifyTexts,
  poseidon: (/** @type {string[]} */ inputs) => poseidon(inputs.map(BigInt)).toString(),
  sha256: (/** @type {string} */ hex) => toHex(sha256(Uint8Array.from(hex.match(/../g) ?? [], (b) => parseInt(b, 16)))),
  accountIdField: (/** @type {string} */ id, sub = "") => accountIdField(id, sub).toString(),
  accountKey: (/** @type {string} */ id, /** @type {string} */ salt, sub = "") => accountKey(id, BigInt(salt), sub).toString(),
  leafHash: (/** @type {string} */ key, /** @type {string[]} */ values) => leafHash(BigInt(key), values.map(BigInt)).toString(),
  paramsHash: (/** @type {string} */ paramsText) => paramsHash(readParams(parseJson(paramsText))).toString(),
  marginStatus: (/** @type {string[]} */ values, /** @type {string} */ paramsText) =>
    marginStatus(values.map(BigInt), readParams(parseJson(paramsText))),
  leafValues: fileLeafValues,
});

if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
else start();
