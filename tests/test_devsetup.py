"""The fast development setup (zksolv/devsetup.py + zksolv/js/devsetup.js).

Keys computed from the development ptau's known τ must be the keys snarkjs
would make: `snarkjs zkey verify r1cs ptau zkey` passes (the whole phase-2
transcript, circuit hash included), the sections snarkjs's `groth16 setup`
fixes are byte-identical to its output, and proofs made with them (snarkjs,
arkworks) verify with snarkjs and with zksolv's Python verifier while a wrong
witness's proof does not. A flipped byte in the H or L section fails zkey
verify. `setup()` takes this path for a development ptau whose secret it
knows, and the snarkjs path for `--ptau` files and for older development
ptau files without a secret.

Shape K=1, M=1, B=2 throughout, compiled at test time (compile_circuit caches).
"""

from __future__ import annotations

import json
import shutil
import stat
import struct
from pathlib import Path
from types import SimpleNamespace

import pytest

from zksolv import snarkjs
from zksolv.audit import verify_zkey
from zksolv.binfile import scan
from zksolv.circuit import BN254_R, compile_circuit, compute_witness, r1cs_info, read_wtns, write_wtns
from zksolv.devsetup import CONTRIBUTION_NAME, SecretMismatch, fast_setup, ptau_secret, secret_path, write_ptau_secret
from zksolv.groth16 import verify_proof
from zksolv.ptau import required_power

from .conftest import TINY_ACCOUNTS, TINY_PARAMS, TINY_SHAPE

pytestmark = pytest.mark.node

SHAPE, PARAMS, ACCOUNTS = TINY_SHAPE, TINY_PARAMS, TINY_ACCOUNTS


def zkey_sections(path: Path) -> list[tuple[int, int, int]]:
    """[(section id, payload offset, size)] of a zkey, in file order."""
    table = scan(path, b"zkey")
    assert table.version == 1
    return [(s.kind, s.start, s.size) for s in table.sections]


def section_bytes(path: Path) -> dict[int, bytes]:
    data = path.read_bytes()
    return {sid: data[p : p + size] for sid, p, size in zkey_sections(path)}


class Stop(Exception):
    pass


@pytest.fixture(scope="module")
def dev(tmp_path_factory):
    """`setup()` of SHAPE with the development ptau cache in a temp folder (so the ptau is
    made fresh, with its secret, by `dev_ptau`)."""
    import zksolv.setup as setup_module

    folder = tmp_path_factory.mktemp("devsetup")
    circuit = compile_circuit(*SHAPE)
    info = r1cs_info(circuit.r1cs)
    power = required_power(info["constraints"], info["public_inputs"] + info["outputs"])
    real_dev_ptau = setup_module.dev_ptau
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(setup_module, "dev_ptau", lambda p, cache=None: real_dev_ptau(p, cache or folder))
        messages: list[str] = []
        keys = setup_module.setup(*SHAPE, folder / "keys", on_event=lambda e: messages.append(e["message"]))
    ptau = real_dev_ptau(power, folder)
    return SimpleNamespace(folder=folder, circuit=circuit, keys=keys, ptau=ptau, power=power, messages=messages)


@pytest.fixture(scope="module")
def witness(dev, tmp_path_factory):
    """A real witness of batch 0 (made through the zksolv pipeline: params, accounts, commitment)."""
    from zksolv.prove import prove
    from zksolv.secret import generate_secret

    folder = tmp_path_factory.mktemp("devsetup-prove")
    params = folder / "params.json"
    params.write_text(json.dumps(PARAMS))
    accounts = folder / "accounts.csv"
    accounts.write_text(ACCOUNTS)
    secret = generate_secret(folder / "venue.secret")
    result = prove(params, accounts, secret, dev.keys.dir, folder / "bundle")
    wtns = compute_witness(dev.circuit, result.plan.batch_input(0), folder / "batch0.wtns")
    public = [str(x) for x in result.plan.statements[0].public_signals()]
    return SimpleNamespace(wtns=wtns, public=public, bundle=folder / "bundle", n_batches=result.plan.n_batches)


def snarkjs_proof(zkey: Path, wtns: Path, folder: Path) -> tuple[dict, list]:
    folder.mkdir(parents=True, exist_ok=True)
    snarkjs.prove(zkey, wtns, folder / "proof.json", folder / "public.json")
    return json.loads((folder / "proof.json").read_text()), json.loads((folder / "public.json").read_text())


# ---------------------------------------------------------------------------
# setup() picks the fast path, the keys are flagged insecure


def test_setup_uses_the_fast_path_for_a_known_dev_ptau(dev):
    timings = dev.keys.info["timings"]
    assert "dev_setup_s" in timings and "groth16_setup_s" not in timings and "contribute_s" not in timings
    assert any("known τ" in m for m in dev.messages)
    assert dev.keys.insecure and dev.keys.info["ptau"]["insecure_development"] is True
    assert dev.keys.info["ptau"]["power"] == dev.power
    secret = secret_path(dev.ptau)
    assert ptau_secret(dev.ptau) == secret
    assert not secret.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO), "the toxic waste must be owner-only"
    for path in (dev.keys.zkey, dev.keys.verification_key, dev.keys.verifier_sol, dev.keys.r1cs):
        assert path.stat().st_size > 0
    vkey = json.loads(dev.keys.verification_key.read_text())
    assert vkey["protocol"] == "groth16" and vkey["nPublic"] == 3


def test_zkey_verify_passes(dev):
    transcript = verify_zkey(dev.circuit.r1cs, dev.ptau, dev.keys.zkey)
    assert transcript.ok, transcript.detail
    assert [c.name for c in transcript.contributions] == [CONTRIBUTION_NAME]


def test_sections_are_what_snarkjs_groth16_setup_writes(dev, tmp_path):
    """Against snarkjs's own `groth16 setup` of the same r1cs and ptau: the sections a
    contribution keeps are byte-identical, the circuit hash is the same, δ is not the
    generator any more, and the layout is the one `zkey contribute` writes."""
    init = tmp_path / "init.zkey"
    snarkjs.groth16_setup(dev.circuit.r1cs, dev.ptau, init)
    ours, theirs = section_bytes(dev.keys.zkey), section_bytes(init)
    assert [s for s, _, _ in zkey_sections(dev.keys.zkey)] == list(range(1, 11))
    assert sorted(theirs) == list(range(1, 11))
    for sid in (1, 3, 4, 5, 6, 7):
        assert ours[sid] == theirs[sid], f"section {sid} differs from snarkjs groth16 setup"
    delta_bytes = 64 + 128
    assert ours[2][:-delta_bytes] == theirs[2][:-delta_bytes]
    assert ours[2][-delta_bytes:] != theirs[2][-delta_bytes:]
    for sid in (8, 9):
        assert len(ours[sid]) == len(theirs[sid]) and ours[sid] != theirs[sid]
    assert ours[10][:64] == theirs[10][:64], "circuit hash"
    assert struct.unpack_from("<I", ours[10], 64) == (1,) and struct.unpack_from("<I", theirs[10], 64) == (0,)


# ---------------------------------------------------------------------------
# proofs


def test_bundle_proved_with_fast_keys_verifies(witness):
    from zksolv.verify import verify_bundle

    assert witness.n_batches == 2
    report = verify_bundle(witness.bundle)
    assert report.valid, [c for c in report.checks if not c.ok]


def test_snarkjs_proof_verifies_with_snarkjs_and_python(dev, witness, tmp_path):
    proof, public = snarkjs_proof(dev.keys.zkey, witness.wtns, tmp_path)
    assert public == witness.public
    assert snarkjs.verify(dev.keys.verification_key, tmp_path / "public.json", tmp_path / "proof.json")
    vk = json.loads(dev.keys.verification_key.read_text())
    assert verify_proof(vk, proof, public)
    other = [public[0], public[1], str(int(public[2]) + 1)]
    assert not verify_proof(vk, proof, other)


def test_wrong_witness_proof_is_rejected(dev, witness, tmp_path):
    values = read_wtns(witness.wtns)
    values[-1] = (values[-1] + 1) % BN254_R  # a private wire: the constraints no longer hold
    bad = tmp_path / "bad.wtns"
    write_wtns(bad, values)
    proof, public = snarkjs_proof(dev.keys.zkey, bad, tmp_path / "bad")
    assert public == witness.public
    assert not snarkjs.verify(
        dev.keys.verification_key, tmp_path / "bad" / "public.json", tmp_path / "bad" / "proof.json"
    )
    assert not verify_proof(json.loads(dev.keys.verification_key.read_text()), proof, public)


def test_arkworks_proof_verifies_with_snarkjs_and_python(dev, witness, tmp_path):
    pytest.importorskip("groth16py")
    from zksolv.provers import ArkworksProver

    proof_text, public_text = ArkworksProver().prove(dev.keys.zkey, witness.wtns, tmp_path)
    assert json.loads(public_text) == witness.public
    (tmp_path / "proof.json").write_text(proof_text)
    (tmp_path / "public.json").write_text(public_text)
    assert snarkjs.verify(dev.keys.verification_key, tmp_path / "public.json", tmp_path / "proof.json")
    assert verify_proof(json.loads(dev.keys.verification_key.read_text()), json.loads(proof_text), witness.public)


# ---------------------------------------------------------------------------
# adversarial


@pytest.mark.parametrize("section", [8, 9], ids=["L", "H"])
def test_flipped_byte_fails_zkey_verify(dev, tmp_path, section):
    zkey = tmp_path / "flipped.zkey"
    shutil.copyfile(dev.keys.zkey, zkey)
    ((_, pos, size),) = [s for s in zkey_sections(zkey) if s[0] == section]
    data = bytearray(zkey.read_bytes())
    data[pos + (size // 2 // 64) * 64 + 5] ^= 0x01  # x coordinate of a point in the middle
    zkey.write_bytes(bytes(data))
    transcript = verify_zkey(dev.circuit.r1cs, dev.ptau, zkey)
    assert not transcript.ok


def test_wrong_secret_is_refused_and_writes_nothing(dev, tmp_path):
    other = write_ptau_secret(tmp_path / "other.secret")
    out = tmp_path / "never.zkey"
    with pytest.raises(SecretMismatch, match="is not the secret of"):
        fast_setup(dev.circuit.r1cs, dev.ptau, out, other)
    assert not out.exists() and not list(tmp_path.glob(".never.zkey*"))


def test_ceremony_file_and_old_dev_ptau_keep_the_snarkjs_path(dev, tmp_path, monkeypatch):
    """With --ptau FILE τ is unknown (even when FILE happens to be a development ptau
    with its secret beside it, setup does not look); a development ptau without a secret
    (made by an older zksolv) cannot use the fast path either."""
    import zksolv.setup as setup_module

    called: list[str] = []

    def groth16_setup(*args):
        called.append("snarkjs")
        raise Stop

    def no_fast_setup(*args, **kwargs):
        raise AssertionError("fast setup used")

    monkeypatch.setattr(setup_module.snarkjs, "groth16_setup", groth16_setup)
    monkeypatch.setattr("zksolv.devsetup.fast_setup", no_fast_setup)
    with pytest.raises(Stop):
        setup_module.setup(*SHAPE, tmp_path / "ceremony-keys", ptau=dev.ptau)
    old = tmp_path / "old" / dev.ptau.name
    old.parent.mkdir()
    shutil.copyfile(dev.ptau, old)  # no .secret beside it
    assert ptau_secret(old) is None
    monkeypatch.setattr(setup_module, "dev_ptau", lambda p, cache=None: old)
    with pytest.raises(Stop):
        setup_module.setup(*SHAPE, tmp_path / "old-keys")
    assert called == ["snarkjs", "snarkjs"]
