// The EVM bytecode of circomlib's Poseidon with 2 inputs, as circomlibjs
// generates it (`poseidonContract.createCode(2)`: hand-assembled, no Solidity
// source; selectors poseidon(uint256[2]) and poseidon(bytes32[2])). This is the
// contract SolvencyRegistry calls to derive acc_0 = Poseidon2(params_hash, Z);
// the registry pins the keccak256 of its runtime code (POSEIDON2_CODEHASH).
// Usage: node poseidon_contract.js
// Prints {"circomlibjs": version, "n_inputs": 2, "bytecode": "0x<init code>"}.
const fs = require("fs");
const path = require("path");

const modules = process.env.ZKSOLV_NODE_MODULES || path.join(__dirname, "..", "..", "node_modules");
const { poseidonContract } = require(path.join(modules, "circomlibjs"));
const version = JSON.parse(fs.readFileSync(path.join(modules, "circomlibjs", "package.json"), "utf8")).version;

process.stdout.write(JSON.stringify({ circomlibjs: version, n_inputs: 2, bytecode: poseidonContract.createCode(2) }) + "\n");
