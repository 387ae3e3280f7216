// circomlib's Poseidon over BN254 (1–16 inputs), from the pinned poseidon-lite package, and
// zksolv's hash chain (zksolv/poseidon.py hash_chain) over it.

import * as lite from "poseidon-lite";
import { FIELD_MODULUS } from "./exact.js";

export const MAX_INPUTS = 16;

/** @type {Array<(inputs: bigint[]) => bigint>} index n: Poseidon of n inputs */
const BY_WIDTH = [
  () => {
    throw new Error("Poseidon takes 1 to 16 inputs");
  },
  lite.poseidon1,
  lite.poseidon2,
  lite.poseidon3,
  lite.poseidon4,
  lite.poseidon5,
  lite.poseidon6,
  lite.poseidon7,
  lite.poseidon8,
  lite.poseidon9,
  lite.poseidon10,
  lite.poseidon11,
  lite.poseidon12,
  lite.poseidon13,
  lite.poseidon14,
  lite.poseidon15,
  lite.poseidon16,
];

/** Poseidon of 1–16 canonical field elements. @param {bigint[]} inputs @returns {bigint} */
export function poseidon(inputs) {
  if (inputs.length < 1 || inputs.length > MAX_INPUTS) {
    throw new Error(`Poseidon takes 1 to ${MAX_INPUTS} inputs, got ${inputs.length}`);
  }
  for (const x of inputs) {
    // poseidon-lite reduces its inputs mod r; zksolv refuses non-canonical ones, so two spellings of one
    // element can never hash alike.
    if (typeof x !== "bigint" || x < 0n || x >= FIELD_MODULUS) {
      throw new Error("Poseidon input is not a canonical field element");
    }
  }
  return BY_WIDTH[inputs.length](inputs);
}

/**
 * zksolv.poseidon.hash_chain: the first 16 values in one Poseidon, then each further chunk of ≤ 15
 * together with the running hash.
 * @param {bigint[]} values @returns {bigint}
 */
export function hashChain(values) {
  if (!values.length) throw new Error("hash_chain needs at least one value");
  let h = poseidon(values.slice(0, MAX_INPUTS));
  const rest = values.slice(MAX_INPUTS);
  for (let start = 0; start < rest.length; start += MAX_INPUTS - 1) {
    h = poseidon([h, ...rest.slice(start, start + MAX_INPUTS - 1)]);
  }
  return h;
}
