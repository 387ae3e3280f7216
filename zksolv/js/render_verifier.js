// Render snarkjs's Groth16 Solidity verifier template for a verification key
// (exactly what `snarkjs zkey export solidityverifier` writes), so a bundle's
// Verifier.sol can be checked byte for byte against its verification_key.json.
// Usage: node render_verifier.js <verification_key.json>   (prints the contract)
const fs = require("fs");
const path = require("path");

const modules = process.env.ZKSOLV_NODE_MODULES || path.join(__dirname, "..", "..", "node_modules");
const ejs = require(path.join(modules, "ejs"));
const template = fs.readFileSync(path.join(modules, "snarkjs", "templates", "verifier_groth16.sol.ejs"), "utf8");
const vkey = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
process.stdout.write(ejs.render(template, vkey));
