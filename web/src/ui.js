// The page: takes the two files (dropped, chosen, pasted, or the manifest from ?bundle=URL), runs
// verifyTexts and shows its result. Every value reaches the page as text (textContent), never as
// markup, and the only request the page can make is the manifest from its own site (the CSP says
// connect-src 'self'; the code asks for nothing else).

import { verifyTexts } from "./inclusion.js";

/** @typedef {import("./inclusion.js").Result} Result */

/** @type {{inclusion: {text: string, from: string} | null, manifest: {text: string, from: string} | null}} */
const loaded = { inclusion: null, manifest: null };

const $ = (/** @type {string} */ id) => /** @type {HTMLElement} */ (document.getElementById(id));

/** @param {string} tag @param {Record<string, string>} [attrs] @param {(Node | string)[]} [children] */
function el(tag, attrs = {}, children = []) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  for (const child of children) node.append(child);
  return node;
}

/** Which of the two files a JSON text is, by its format (or, failing that, its fields). */
function kindOf(/** @type {string} */ text) {
  let data;
  try {
    data = JSON.parse(text.replace(/^\ufeff/, "")); // a byte-order mark, as parseJson skips it
  } catch {
    return null;
  }
  if (data === null || typeof data !== "object") return null;
  const format = typeof data.format === "string" ? data.format : "";
  if (format.startsWith("zksolv-inclusion/") || (!format && "subaccounts" in data)) return "inclusion";
  if (format.startsWith("zksolv-bundle/") || (!format && "params_hash" in data)) return "manifest";
  return null;
}

function showLoadError(/** @type {string | null} */ message) {
  const box = $("load-error");
  box.textContent = message ?? "";
  box.hidden = message === null;
}

/** Put one file's text in its slot, then check when both are there. */
function accept(/** @type {string} */ text, /** @type {string} */ from) {
  const kind = kindOf(text);
  if (kind === null) {
    showLoadError(`${from} is neither an inclusion file (zksolv-inclusion/…) nor a bundle manifest (zksolv-bundle/…)`);
    return;
  }
  showLoadError(null);
  loaded[kind] = { text, from };
  const slot = $(`slot-${kind}`);
  slot.dataset.loaded = "true";
  /** @type {HTMLElement} */ (slot.querySelector(".status")).textContent = from;
  if (!loaded.inclusion || !loaded.manifest) return;
  try {
    show(verifyTexts(loaded.inclusion.text, loaded.manifest.text));
  } catch (error) {
    // A fault of the page itself, not a verdict on the file: shown as what it is.
    show({ ...EMPTY, reason: `the page could not check the file (${/** @type {Error} */ (error).message})` });
  }
}

/** @type {Result} */
const EMPTY = {
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

async function acceptFiles(/** @type {FileList | File[]} */ files) {
  for (const file of Array.from(files)) accept(await file.text(), file.name);
}

/** The verdict, the facts it rests on, and every account as its leaf encodes it. @param {Result} result */
function show(result) {
  const section = $("result");
  section.hidden = false;
  const verdict = $("verdict");
  verdict.dataset.valid = String(result.valid);
  verdict.className = result.valid ? "verdict ok" : "verdict bad";
  verdict.textContent = result.valid
    ? `✓ Included: account ${JSON.stringify(result.account_id)} is in the commitment`
    : "✗ Not verified";
  $("reason").textContent = result.valid ? "" : result.reason ?? "";
  $("reason").hidden = result.valid;

  const facts = $("facts");
  facts.replaceChildren();
  const fact = (/** @type {string} */ key, /** @type {string} */ label, /** @type {string | null} */ value) => {
    if (value !== null) facts.append(el("dt", {}, [label]), el("dd", { "data-fact": key }, [value]));
  };
  fact("epoch", "Epoch", result.epoch);
  fact("account", "Account", result.account_id);
  fact("root", "Commitment root (from the manifest)", result.root);
  fact("capacity", "Tree capacity", result.capacity);
  if (result.valid) fact("params", "Risk parameters", "the file's params hash to the manifest's params_hash");

  const accounts = $("accounts");
  accounts.replaceChildren();
  if (result.valid) {
    for (const entry of result.subaccounts) accounts.append(accountCard(entry, result.quote ?? ""));
  }
  const failures = $("failures");
  failures.replaceChildren();
  if (!result.valid) {
    for (const entry of result.subaccounts) {
      const label = entry.subaccount ? `sub-account ${JSON.stringify(entry.subaccount)}` : "main account";
      failures.append(el("li", { class: entry.valid ? "ok" : "bad" }, [entry.valid ? `[ok] ${label}` : `[FAIL] ${label}: ${entry.reason}`]));
    }
  }
  document.body.dataset.state = "checked";
}

/** One account: its balances, entry costs, positions, margin mode and how the proofs counted it. */
function accountCard(/** @type {import("./inclusion.js").AccountResult} */ entry, /** @type {string} */ quote) {
  const account = /** @type {Record<string, any>} */ (entry.account);
  const rows = [];
  const row = (/** @type {string} */ kind, /** @type {string} */ label, /** @type {string} */ symbol, /** @type {string} */ value) =>
    rows.push(
      el("tr", { "data-kind": kind, "data-symbol": symbol }, [
        el("th", { scope: "row" }, [label]),
        el("td", {}, [symbol]),
        el("td", { class: "value" }, [value]),
      ]),
    );
  for (const [symbol, value] of Object.entries(account.balances)) row("balance", "balance", symbol, /** @type {string} */ (value));
  for (const [symbol, value] of Object.entries(account.entry_costs ?? {})) row("entry_cost", "entry cost", symbol, /** @type {string} */ (value));
  for (const [symbol, value] of Object.entries(account.positions)) row("position", "position", symbol, /** @type {string} */ (value));
  if (account.margin_mode) row("margin_mode", "margin mode", "", account.margin_mode);
  row("health", "maintenance health", quote, account.maintenance_health);
  row("equity", "equity", quote, account.equity);
  const status = account.below_maintenance
    ? "counted BELOW maintenance (in liquidation)"
    : "counted at or above maintenance";
  const portfolio = account.margin_mode === "portfolio" ? " (worst health over the published scenarios)" : "";
  return el("article", { class: "account", "data-subaccount": entry.subaccount }, [
    el("h3", {}, [entry.subaccount ? `Isolated sub-account ${JSON.stringify(entry.subaccount)}` : "Main account"]),
    el("p", { class: account.below_maintenance ? "status below" : "status above", "data-status": account.below_maintenance ? "below" : "above" }, [
      status + portfolio + (account.bankrupt ? "; negative equity: counted bankrupt" : ""),
    ]),
    el("table", {}, [el("tbody", {}, rows)]),
  ]);
}

/** ?bundle=URL: the bundle folder (or its manifest.json) on the page's own site. */
async function loadBundleParameter() {
  const bundle = new URLSearchParams(location.search).get("bundle");
  if (!bundle) return;
  let url;
  try {
    url = new URL(bundle.endsWith("manifest.json") ? bundle : `${bundle.replace(/\/?$/, "/")}manifest.json`, location.href);
  } catch {
    showLoadError(`?bundle=${bundle} is not a URL`);
    return;
  }
  if (location.protocol === "file:" || url.origin !== location.origin) {
    showLoadError(
      `not loading ${url.href}: the page loads a manifest only from the site it is served from ` +
        "(opened from disk, give it the manifest.json file instead)",
    );
    return;
  }
  try {
    const response = await fetch(url, { credentials: "omit", redirect: "error", cache: "no-cache" });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    accept(await response.text(), url.href);
  } catch (error) {
    showLoadError(`cannot load ${url.href}: ${/** @type {Error} */ (error).message}`);
  }
}

export function start() {
  const input = /** @type {HTMLInputElement} */ ($("files"));
  input.addEventListener("change", () => {
    if (input.files) acceptFiles(input.files).finally(() => (input.value = ""));
  });
  $("use-paste").addEventListener("click", () => {
    const text = /** @type {HTMLTextAreaElement} */ ($("paste")).value;
    accept(text, "pasted JSON");
  });
  const drop = $("drop");
  for (const event of ["dragenter", "dragover"]) {
    document.addEventListener(event, (e) => {
      e.preventDefault();
      drop.classList.add("over");
    });
  }
  document.addEventListener("dragleave", () => drop.classList.remove("over"));
  document.addEventListener("drop", (e) => {
    e.preventDefault();
    drop.classList.remove("over");
    if (e.dataTransfer?.files.length) acceptFiles(e.dataTransfer.files);
  });
  $("clear").addEventListener("click", () => {
    loaded.inclusion = loaded.manifest = null;
    for (const kind of ["inclusion", "manifest"]) {
      const slot = $(`slot-${kind}`);
      delete slot.dataset.loaded;
      /** @type {HTMLElement} */ (slot.querySelector(".status")).textContent = "not loaded";
    }
    $("result").hidden = true;
    showLoadError(null);
    delete document.body.dataset.state;
  });
  loadBundleParameter();
}
