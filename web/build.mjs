// Build the holders' page: web/src/main.js and its imports (poseidon-lite included) bundled by the
// pinned esbuild into one script, inlined into web/inclusion.html with a Content-Security-Policy
// that allows exactly that script and style (by SHA-256) and requests to the page's own site only.
// Output: web/dist/inclusion.html, one self-contained file (`make install` runs this).
//
//   node web/build.mjs [--out FILE]

import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const web = dirname(fileURLToPath(import.meta.url));
const outIndex = process.argv.indexOf("--out");
const out = outIndex > 0 ? resolve(process.argv[outIndex + 1]) : join(web, "dist", "inclusion.html");

const bundled = await build({
  entryPoints: [join(web, "src", "main.js")],
  bundle: true,
  write: false,
  format: "iife",
  // Not minified: a holder or auditor can read what the page runs (Poseidon's constants are most of it).
  minify: false,
  charset: "ascii",
  target: ["chrome111", "firefox115", "safari16.4"],
  legalComments: "inline",
  logLevel: "warning",
});
const script = bundled.outputFiles[0].text;
// Inside <script>, these sequences would end the element early or change how HTML parses it.
for (const forbidden of ["</script", "<!--", "<script"]) {
  if (script.toLowerCase().includes(forbidden)) {
    throw new Error(`the bundled script contains ${forbidden}: it cannot be inlined as is`);
  }
}

const template = readFileSync(join(web, "inclusion.html"), "utf8");
const style = /<style>([\s\S]*?)<\/style>/.exec(template);
if (!style || !template.includes("<!--%%SCRIPT%%-->") || !template.includes("%%CSP%%")) {
  throw new Error("web/inclusion.html lacks its <style>, %%CSP%% or <!--%%SCRIPT%%--> placeholder");
}
const sha256 = (/** @type {string} */ text) => createHash("sha256").update(text, "utf8").digest("base64");
const csp = [
  "default-src 'none'",
  `script-src 'sha256-${sha256(script)}'`,
  `style-src 'sha256-${sha256(style[1])}'`,
  "connect-src 'self'",
  "img-src 'none'",
  "base-uri 'none'",
  "form-action 'none'",
].join("; ");
const page = template.replace("%%CSP%%", csp).replace("<!--%%SCRIPT%%-->", () => `<script>${script}</script>`);

mkdirSync(dirname(out), { recursive: true });
const tmp = `${out}.tmp-${process.pid}`;
writeFileSync(tmp, page);
renameSync(tmp, out); // atomic: a reader never sees half a page
console.log(`wrote ${out} (${(page.length / 1024).toFixed(0)} KiB)`);
