// Compile Solidity sources with the pinned solc-js (npm `solc`, no native
// binary, no download): standard-JSON with the settings zksolv pins in one place,
// zksolv/evm.py SOLC_SETTINGS (optimizer, runs, evmVersion, viaIR), passed as the
// first argument. Sources are named by their base name, so the bytecode (including
// its metadata hash) does not depend on where the files live.
// Usage: node compile_solidity.js SETTINGS_JSON A.sol [B.sol ...]
// Prints {"solc": version, "contracts": {"A.sol:Name": {"abi": [...], "bytecode": "0x..."}}, "warnings": [...]};
// exits 1 with the compiler's messages on stderr if any source has an error.
const fs = require("fs");
const path = require("path");

const modules = process.env.ZKSOLV_NODE_MODULES || path.join(__dirname, "..", "..", "node_modules");
const solc = require(path.join(modules, "solc"));

const files = process.argv.slice(3);
if (files.length === 0) {
  process.stderr.write("usage: node compile_solidity.js SETTINGS_JSON A.sol [B.sol ...]\n");
  process.exit(2);
}
const pinned = JSON.parse(process.argv[2]);
const sources = {};
for (const file of files) {
  const name = path.basename(file);
  if (name in sources) {
    process.stderr.write(`two sources are named ${name}\n`);
    process.exit(2);
  }
  sources[name] = { content: fs.readFileSync(file, "utf8") };
}

const input = {
  language: "Solidity",
  sources,
  settings: {
    ...pinned,
    outputSelection: { "*": { "*": ["abi", "evm.bytecode.object"] } },
  },
};
const output = JSON.parse(solc.compile(JSON.stringify(input)));
const messages = output.errors || [];
const errors = messages.filter((m) => m.severity === "error");
if (errors.length) {
  process.stderr.write(errors.map((m) => m.formattedMessage || m.message).join("\n") + "\n");
  process.exit(1);
}
const contracts = {};
for (const [source, byName] of Object.entries(output.contracts || {})) {
  for (const [name, artefact] of Object.entries(byName)) {
    contracts[`${source}:${name}`] = { abi: artefact.abi, bytecode: "0x" + artefact.evm.bytecode.object };
  }
}
process.stdout.write(JSON.stringify({
  solc: solc.version(),
  settings: pinned,
  contracts,
  warnings: messages.filter((m) => m.severity !== "error").map((m) => m.formattedMessage || m.message),
}) + "\n");
