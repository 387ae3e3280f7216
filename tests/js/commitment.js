// Independent recomputation of a commitment root with circomlibjs:
// key = Poseidon(SHA-256(tag ‖ 0 ‖ id) >> 8, salt); leaf = Poseidon(LEAF_TAG, key, packed offsets);
// binary tree.
// Input (stdin): {"slots": [{"account_id": str|null, "salt": dec|null, "key": dec|null, "amounts": [dec...]}]}
// in leaf order. Output: {"root": dec, "leaves": [dec...]}.
const crypto = require("crypto");
const { buildPoseidon } = require("circomlibjs");

async function main() {
    const chunks = [];
    for await (const chunk of process.stdin) chunks.push(chunk);
    const input = JSON.parse(Buffer.concat(chunks).toString());
    const poseidon = await buildPoseidon();
    const H = (xs) => poseidon.F.toObject(poseidon(xs));
    const OFFSET = 1n << 63n;
    const LEAF_TAG = BigInt("0x" + Buffer.from("zksolv.leaf.v2").toString("hex"));
    const leaves = input.slots.map((slot) => {
        let key;
        if (slot.account_id !== null) {
            const digest = crypto.createHash("sha256")
                .update(Buffer.concat([Buffer.from("zksolv/account-id/v1"), Buffer.from([0]), Buffer.from(slot.account_id, "utf8")]))
                .digest("hex");
            key = H([BigInt("0x" + digest) >> 8n, BigInt(slot.salt)]);
        } else {
            key = BigInt(slot.key);
        }
        const packed = [];
        slot.amounts.forEach((a, i) => {
            const u = BigInt(a) + OFFSET;
            if (i % 3 === 0) packed.push(0n);
            packed[packed.length - 1] += u << BigInt(64 * (i % 3));
        });
        return H([LEAF_TAG, key, ...packed]);
    });
    let level = leaves;
    while (level.length > 1) {
        const next = [];
        for (let i = 0; i < level.length; i += 2) next.push(H([level[i], level[i + 1]]));
        level = next;
    }
    process.stdout.write(JSON.stringify({ root: level[0].toString(), leaves: leaves.map(String) }));
}
main().then(() => process.exit(0), (err) => { console.error(err); process.exit(1); });
