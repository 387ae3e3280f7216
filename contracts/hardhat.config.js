// A local JSON-RPC chain for `zksolv publish` (tests/test_publish.py, docs/BENCHMARKS.md):
//   HARDHAT_DISABLE_TELEMETRY_PROMPT=true node_modules/.bin/hardhat node \
//       --config contracts/hardhat.config.js --hostname 127.0.0.1 --port 8545
// Hardhat only serves the chain here: zksolv compiles the contracts itself with the pinned solc-js
// (zksolv/evm.py SOLC_SETTINGS), so no `solidity` block (Hardhat would download a compiler).
// Everything that changes gas figures or limits is written out, not left to Hardhat's defaults,
// so a Hardhat upgrade cannot silently change the benchmarks.
module.exports = {
  networks: {
    hardhat: {
      chainId: 31337,
      hardfork: "osaka", // Ethereum mainnet's fork since December 2025 (EIP-7825: 2^24 gas per transaction)
      blockGasLimit: 60_000_000, // mainnet's block gas limit (late 2025)
      allowUnlimitedContractSize: false, // EIP-170's 24 KiB code limit, as on mainnet
      mining: { auto: true, interval: 0 }, // one block per transaction: receipts at once
      // The well-known development accounts (mnemonic "test test … junk"), funded: never use on a real chain.
    },
  },
};
