// Independent Poseidon oracle for the tests: reads a JSON list of input lists
// on stdin, prints the circomlibjs Poseidon of each as decimal strings.
const { buildPoseidon } = require("circomlibjs");

async function main() {
    const chunks = [];
    for await (const chunk of process.stdin) chunks.push(chunk);
    const vectors = JSON.parse(Buffer.concat(chunks).toString());
    const poseidon = await buildPoseidon();
    const out = vectors.map((inputs) => poseidon.F.toObject(poseidon(inputs.map(BigInt))).toString());
    process.stdout.write(JSON.stringify(out));
}
main().then(() => process.exit(0), (err) => { console.error(err); process.exit(1); });
