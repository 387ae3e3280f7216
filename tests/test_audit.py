"""Key pinning and the setup audit (issue 9 §2, audit F2).

The attack: a venue runs the setup for a MODIFIED circuit (format 1: the health
range check deleted; format 3, rebuilt here: the liquidation figures never
accumulated), proves an account owing 1,000,000 USDC with no collateral
without counting it, writes
`insecure_development: false` into the manifest, and `verify
--require-ceremony` used to print VALID. Here: `audit-setup` rejects such keys,
a bundle made with them fails against a pinned (audited) key, and
`--require-ceremony` passes only for a key pinned by an audit that identified a
published ceremony ptau, never because of the manifest's own flag.

Shape K=1, M=1, B=2 throughout (the smallest circuit), dev ptau 2^12.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import struct
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from zksolv import api
from zksolv.audit import AuditReport, identify_ptau, load_trust, parse_zkey_verify
from zksolv.errors import InputError

from .conftest import TINY_ACCOUNTS, TINY_PARAMS, TINY_SHAPE
from .helpers import REPO
from .test_bundle_mutations import rehash

pytestmark = pytest.mark.node

SHAPE, PARAMS = TINY_SHAPE, TINY_PARAMS
HONEST_ACCOUNTS = TINY_ACCOUNTS
ATTACK_ACCOUNTS = "account_id,USDC,BTC-PERP\nalice,10000,0.1\nmallory,-1000000,\n"  # owes 1,000,000 USDC


def zksolv(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "zksolv", *args], capture_output=True, text=True, cwd=REPO)


# ---------------------------------------------------------------------------
# fixtures: one honest dev setup, one setup of a modified circuit, bundles of each


@pytest.fixture(scope="module")
def honest():
    from zksolv.setup import cached_setup, dev_ptau

    keys = cached_setup(*SHAPE)
    return SimpleNamespace(keys=keys, ptau=dev_ptau(keys.info["ptau"]["power"]))


@pytest.fixture(scope="module")
def trust_file(honest, tmp_path_factory) -> Path:
    """`zksolv audit-setup --json` of the honest keys, saved as a verifier would."""
    run = zksolv("audit-setup", str(honest.keys.dir), "--ptau", str(honest.ptau), "--json")
    assert run.returncode == 0, run.stdout + run.stderr
    path = tmp_path_factory.mktemp("trust") / "trusted-keys.json"
    path.write_text(run.stdout)
    return path


@pytest.fixture(scope="module")
def modified(tmp_path_factory):
    """The venue's attack: keys for circuits/ whose liquidation figures are never accumulated, so an
    account below maintenance (or bankrupt) is proved without being counted."""
    from zksolv.circuit import circuits_dir
    from zksolv.setup import setup

    folder = tmp_path_factory.mktemp("modified")
    sources = folder / "circuits"
    shutil.copytree(circuits_dir(), sources)
    batch = sources / "batch.circom"
    text = batch.read_text()
    line = "accOut.totals[2 * n + j] <== totals_in[2 * n + j] + figures[j];"
    assert text.count(line) == 1
    text = text.replace(line, "accOut.totals[2 * n + j] <== totals_in[2 * n + j];")
    batch.write_text(text)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("ZKSOLV_CIRCUITS", str(sources))  # compile_circuit reads the sources from here
        return setup(*SHAPE, folder / "keys", force=True)


def make_bundle(keys_dir: Path, folder: Path, accounts: str, skip_solvency_check: bool = False) -> Path:
    from zksolv import prove as prove_module
    from zksolv.secret import generate_secret

    folder.mkdir(parents=True, exist_ok=True)
    (folder / "params.json").write_text(json.dumps(PARAMS))
    (folder / "accounts.csv").write_text(accounts)
    secret = generate_secret(folder / "venue.secret")
    with pytest.MonkeyPatch.context() as mp:
        if skip_solvency_check:
            # The venue runs its own code: zksolv's refusal to prove an insolvent account is no defence,
            # and its witness leaves the liquidation figures at zero, as the modified circuit does.
            from zksolv.margin import Liquidations

            mp.setattr(prove_module.SolvencyReport, "solvent", property(lambda self: True))
            mp.setattr(Liquidations, "add", lambda self, health, equity: None)
        prove_module.prove(
            folder / "params.json", folder / "accounts.csv", secret, keys_dir, folder / "bundle", workers=1
        )
    return folder / "bundle"


@pytest.fixture(scope="module")
def bundle(honest, tmp_path_factory) -> Path:
    return make_bundle(honest.keys.dir, tmp_path_factory.mktemp("honest-bundle"), HONEST_ACCOUNTS)


@pytest.fixture(scope="module")
def attack_bundle(modified, tmp_path_factory) -> Path:
    """1,000,000 USDC of debt with no collateral, proved with the modified keys; the manifest then
    claims a ceremony setup and is rehashed, as a forger would."""
    folder = make_bundle(modified.dir, tmp_path_factory.mktemp("attack"), ATTACK_ACCOUNTS, skip_solvency_check=True)
    claim_ceremony(folder)
    return folder


def claim_ceremony(folder: Path) -> None:
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["setup"]["insecure_development"] = False
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=1))
    rehash(folder)


def copy_keys(keys, tmp_path: Path) -> Path:
    target = tmp_path / "keys"
    shutil.copytree(keys.dir, target)
    return target


def failed(report) -> set[str]:
    return {c.name for c in report.checks if not c.ok}


# ---------------------------------------------------------------------------
# audit-setup


def test_audit_passes_on_honest_dev_setup(honest, trust_file):
    audit = AuditReport.model_validate(json.loads(trust_file.read_text()))
    assert audit.passed and not failed(audit), audit.checks
    assert audit.ptau.kind == "development" and audit.ptau.label == "development ptau, INSECURE"
    assert (audit.shape.n_assets, audit.shape.n_markets, audit.shape.batch_size) == SHAPE
    assert audit.verification_key_sha256 == honest.keys.info["verification_key_sha256"]
    assert audit.r1cs_sha256 == honest.keys.info["r1cs_sha256"]
    assert audit.ptau.blake2b == honest.keys.info["ptau"]["blake2b"]  # setup.json records the ptau's hash
    # One contribution, named by the path setup took: the fast known-τ setup or snarkjs's.
    from zksolv.devsetup import CONTRIBUTION_NAME

    fast = "dev_setup_s" in honest.keys.info["timings"]
    assert [c.name for c in audit.phase2_contributions] == [CONTRIBUTION_NAME if fast else "zksolv setup contribution"]
    assert all(len(c.hash) == 128 for c in audit.phase2_contributions)
    assert any("INSECURE" in w for w in audit.warnings)


def test_audit_setup_cli_text(honest):
    run = zksolv("audit-setup", str(honest.keys.dir), "--ptau", str(honest.ptau))
    assert run.returncode == 0, run.stdout + run.stderr
    assert "development ptau, INSECURE" in run.stdout
    assert honest.keys.info["verification_key_sha256"] in run.stdout
    assert honest.keys.info["r1cs_sha256"] in run.stdout and "SolvencyBatch(1,1,2)" in run.stdout


def test_audit_fails_on_modified_circuit(modified, honest):
    run = zksolv("audit-setup", str(modified.dir), "--ptau", str(honest.ptau))
    assert run.returncode == 1, run.stdout + run.stderr
    assert "[FAIL] circuit" in run.stdout and "[FAIL] proving key" in run.stdout and "FAILED" in run.stdout


def test_audit_fails_on_zkey_of_another_circuit_with_the_honest_r1cs(modified, honest, tmp_path):
    keys = copy_keys(modified, tmp_path)
    shutil.copyfile(honest.keys.r1cs, keys / "circuit.r1cs")
    info = json.loads((keys / "setup.json").read_text())
    info["r1cs_sha256"] = honest.keys.info["r1cs_sha256"]
    (keys / "setup.json").write_text(json.dumps(info))
    audit = api.audit_setup(keys, honest.ptau)
    assert not audit.passed and "proving key" in failed(audit) and "circuit" not in failed(audit)


def test_audit_fails_on_tampered_verification_key(honest, tmp_path):
    from py_ecc.optimized_bn128 import multiply

    from zksolv.evm import render_verifier
    from zksolv.groth16 import g1_to_json, parse_g1

    keys = copy_keys(honest.keys, tmp_path)
    vkey = json.loads((keys / "verification_key.json").read_text())
    vkey["vk_alpha_1"] = g1_to_json(multiply(parse_g1(vkey["vk_alpha_1"]), 2))  # another valid point
    (keys / "verification_key.json").write_text(json.dumps(vkey, indent=1))
    (keys / "Verifier.sol").write_text(render_verifier(keys / "verification_key.json"))  # consistent forgery
    audit = api.audit_setup(keys, honest.ptau)
    assert not audit.passed and {"verification key", "verifier contract", "setup.json"} >= failed(audit) >= {
        "verification key"
    }


def test_audit_fails_on_flipped_zkey_bytes(honest, tmp_path):
    from zksolv.binfile import parse

    keys = copy_keys(honest.keys, tmp_path)
    data = bytearray((keys / "circuit.zkey").read_bytes())
    section = parse(bytes(data), b"zkey").one(8)  # L: the private-wire query, δ-scaled by the contributions
    for i in range(section.start + section.size // 2, section.start + section.size // 2 + 8):
        data[i] ^= 0x5A
    (keys / "circuit.zkey").write_bytes(bytes(data))
    audit = api.audit_setup(keys, honest.ptau)
    assert not audit.passed and "proving key" in failed(audit)


def test_audit_unreadable_inputs_exit_2(honest, tmp_path):
    missing = zksolv("audit-setup", str(tmp_path / "nothing"), "--ptau", str(honest.ptau))
    assert missing.returncode == 2 and "not a keys folder" in missing.stderr and "Traceback" not in missing.stderr
    not_ptau = zksolv("audit-setup", str(honest.keys.dir), "--ptau", str(honest.keys.dir / "setup.json"))
    assert not_ptau.returncode == 2 and "not a readable ptau file" in not_ptau.stderr


# ---------------------------------------------------------------------------
# ptau identity and snarkjs output parsing (no setup needed)


def test_known_ptau_list_is_the_published_hermez_table():
    from zksolv.audit import known_ptau

    known = known_ptau()
    names = sorted(f.name for f, _ in known.values())
    assert len(known) == 21 and names[0] == "powersOfTau28_hez_final.ptau"
    assert {f.power for f, _ in known.values()} == set(range(8, 29))
    by_name = {f.name: h for h, (f, _) in known.items()}
    # Spot checks against the snarkjs README table (first, a middle one, the full 2^28 file).
    assert by_name["powersOfTau28_hez_final_08.ptau"].startswith("d6a8fb3a04feb600096c3b791f936a57")
    assert by_name["powersOfTau28_hez_final_12.ptau"].startswith("ded2694169b7b08e898f736d5de95af8")
    assert by_name["powersOfTau28_hez_final.ptau"].endswith("0236f5c1a326f41a")


def minimal_ptau(path: Path, power: int) -> Path:
    """A header-only ptau file (no contributions): enough to be read, not a development file."""
    q = 21888242871839275222246405745257275088696311157297823662689037894645226208583
    header = struct.pack("<I", 32) + q.to_bytes(32, "little") + struct.pack("<II", power, power)
    path.write_bytes(b"ptau" + struct.pack("<II", 1, 1) + struct.pack("<IQ", 1, len(header)) + header)
    return path


def test_identify_ptau(honest, tmp_path, monkeypatch):
    import zksolv.audit as audit

    assert identify_ptau(honest.ptau).kind == "development"
    other = identify_ptau(minimal_ptau(tmp_path / "x.ptau", 12))
    assert other.kind == "unknown" and other.label.startswith("unknown ptau") and other.power == 12
    # A file whose hash is in the published list is named after it.
    fake = audit._KnownFile(name="powersOfTau28_hez_final_12.ptau", power=12, ceremony="hermez", blake2b=other.blake2b)
    monkeypatch.setattr(audit, "known_ptau", lambda: {other.blake2b: (fake, "test list")})
    named = identify_ptau(tmp_path / "x.ptau")
    assert named.kind == "ceremony" and named.name == "powersOfTau28_hez_final_12.ptau"
    with pytest.raises(InputError, match="not a readable ptau file"):
        identify_ptau(honest.keys.dir / "setup.json")


HASH = "\n".join("\t\t" + " ".join(f"{i:02x}" * 4 for i in range(j, j + 4)) for j in range(0, 16, 4))


def test_parse_zkey_verify_output():
    ok = (
        f"[INFO]  snarkJS: Circuit Hash: \n{HASH}\n[INFO]  snarkJS: -------------------------\n"
        f"[INFO]  snarkJS: contribution #2 Final Beacon phase2:\n{HASH}\n"
        f"[INFO]  snarkJS: Beacon generator: 0102\n[INFO]  snarkJS: -------------------------\n"
        f"[INFO]  snarkJS: contribution #1 alice: the first:\n{HASH}\n"
        f"[INFO]  snarkJS: -------------------------\n[INFO]  snarkJS: ZKey Ok!\n"
    )
    parsed = parse_zkey_verify(0, "\x1b[32m" + ok)
    assert parsed.ok and [(c.index, c.name) for c in parsed.contributions] == [
        (1, "alice: the first"),
        (2, "Final Beacon phase2"),
    ]
    assert parsed.circuit_hash == "".join(f"{i:02x}" * 4 for i in range(16))
    assert not parse_zkey_verify(1, ok).ok  # a non-zero exit is a failure whatever was printed
    bad = parse_zkey_verify(1, "[INFO]  snarkJS: Reading r1cs\n[ERROR] snarkJS: INVALID:  Circuit does not match\n")
    assert not bad.ok and "Circuit does not match" in bad.detail
    crash = parse_zkey_verify(1, "TypeError: Cannot read properties of undefined\n    at foo (x.js:1)\n")
    assert not crash.ok and "TypeError" in crash.detail and "x.js" not in crash.detail


def test_delta_sanity_check_rejects_small_multiples_of_g2():
    from py_ecc.optimized_bn128 import G2, multiply, neg

    from zksolv.groth16 import g2_to_json
    from zksolv.verify import _weak_delta

    gamma = g2_to_json(G2)
    for point in (G2, neg(G2), multiply(G2, 5), neg(multiply(G2, 200))):
        assert "forge" in _weak_delta({"vk_gamma_2": gamma, "vk_delta_2": g2_to_json(point)})
    assert _weak_delta({"vk_gamma_2": gamma, "vk_delta_2": g2_to_json(multiply(G2, 123456789123))}) is None
    other_gamma = g2_to_json(multiply(G2, 77777777777))
    assert "γ" in _weak_delta({"vk_gamma_2": other_gamma, "vk_delta_2": g2_to_json(multiply(G2, 3 * 77777777777))})


# ---------------------------------------------------------------------------
# verify: pinning


def test_verify_without_pin_says_what_the_claim_rests_on(bundle):
    run = zksolv("verify", str(bundle), "--json")
    assert run.returncode == 0, run.stdout + run.stderr
    trust = json.loads(run.stdout)["trust"]
    assert trust["pinned"] is False and "SolvencyBatch(1,1,2)" in trust["statement"]
    assert "holds only if" in trust["statement"] and "zksolv audit-setup" in trust["how_to_audit"]
    text = zksolv("verify", str(bundle))
    assert text.returncode == 0 and "KEY NOT PINNED" in text.stdout and "zksolv audit-setup" in text.stdout


def test_verify_trusted_vkey_passes_only_with_the_right_hash(bundle, honest):
    right = honest.keys.info["verification_key_sha256"]
    report = api.verify(bundle, trusted_vkeys=[right.upper()])
    assert report.valid and report.trust["by"] == "hash"
    wrong = api.verify(bundle, trusted_vkeys=["ab" * 32])
    assert not wrong.valid and failed(wrong) == {"verification key"}
    run = zksolv("verify", str(bundle), "--trusted-vkey", "ab" * 32)
    assert run.returncode == 1 and "not one of the pinned keys" in run.stdout
    assert zksolv("verify", str(bundle), "--trusted-vkey", right).returncode == 0
    bad = zksolv("verify", str(bundle), "--trusted-vkey", "xyz")
    assert bad.returncode == 2 and "--trusted-vkey" in bad.stderr


def test_verify_trusted_keys_file(bundle, trust_file, tmp_path):
    report = api.verify(bundle, trusted_keys=[trust_file])
    assert report.valid and report.trust["by"] == "audit" and report.trust["audit"]["shape"] == "SolvencyBatch(1,1,2)"
    assert zksolv("verify", str(bundle), "--trusted-keys", str(trust_file)).returncode == 0
    doc = json.loads(trust_file.read_text())
    # Another shape's audit of the very same hash: the bundle's shape must be the audited one.
    other_shape = json.loads(json.dumps(doc))
    other_shape["shape"]["batch_size"] = 4
    (tmp_path / "other.json").write_text(json.dumps([other_shape]))
    report = api.verify(bundle, trusted_keys=[tmp_path / "other.json"], trusted_vkeys=[doc["verification_key_sha256"]])
    assert not report.valid and "verification key" in failed(report)
    assert any("audited for SolvencyBatch(1,1,4)" in c.detail for c in report.checks)
    # A list holding several audits is one trust file.
    (tmp_path / "both.json").write_text(json.dumps([other_shape, doc]))
    assert api.verify(bundle, trusted_keys=[tmp_path / "both.json"]).valid
    # A failed audit is refused as input, naming the file.
    failed_doc = dict(doc, passed=False)
    (tmp_path / "failed.json").write_text(json.dumps(failed_doc))
    with pytest.raises(InputError, match="FAILED audit"):
        load_trust(trusted_keys=[tmp_path / "failed.json"])
    run = zksolv("verify", str(bundle), "--trusted-keys", str(tmp_path / "failed.json"))
    assert run.returncode == 2 and "failed.json" in run.stderr
    (tmp_path / "junk.json").write_text('{"format": "zksolv-audit/1"}')
    with pytest.raises(InputError, match="junk.json"):
        load_trust(trusted_keys=[tmp_path / "junk.json"])


# ---------------------------------------------------------------------------
# verify: --require-ceremony


def test_require_ceremony_fails_on_every_dev_setup_bundle(bundle, honest, trust_file, tmp_path):
    forged = tmp_path / "forged"
    shutil.copytree(bundle, forged)
    claim_ceremony(forged)  # the venue's own flag now says "not insecure"
    assert api.verify(forged).valid  # the forged flag alone does not break the bundle...
    pins = [{}, {"trusted_vkeys": [honest.keys.info["verification_key_sha256"]]}, {"trusted_keys": [trust_file]}]
    for folder in (bundle, forged):
        for pin in pins:
            report = api.verify(folder, require_ceremony=True, **pin)
            assert not report.valid and failed(report) == {"ceremony"}, (folder, pin, report.checks)
    run = zksolv("verify", str(forged), "--require-ceremony")
    assert run.returncode == 1 and "insecure_development flag is written by the venue" in run.stdout
    run = zksolv("verify", str(forged), "--require-ceremony", "--trusted-keys", str(trust_file))
    assert run.returncode == 1 and "development ptau, INSECURE" in run.stdout


def test_require_ceremony_passes_for_a_key_audited_with_a_ceremony_ptau(bundle, trust_file, tmp_path):
    """The verifier's trust file is its own; when its audit named a published ceremony file
    (here edited in, as no 2^12 ceremony file is shipped), --require-ceremony passes."""
    doc = json.loads(trust_file.read_text())
    doc["ptau"].update(
        kind="ceremony",
        name="powersOfTau28_hez_final_12.ptau",
        label="powersOfTau28_hez_final_12.ptau (public ceremony file, published hash)",
    )
    (tmp_path / "ceremony.json").write_text(json.dumps(doc))
    report = api.verify(bundle, require_ceremony=True, trusted_keys=[tmp_path / "ceremony.json"])
    assert report.valid, report.checks
    assert "powersOfTau28_hez_final_12.ptau" in next(c.detail for c in report.checks if c.name == "ceremony")


def test_attack_bundle_of_a_modified_circuit_fails_against_the_pinned_key(attack_bundle, trust_file):
    # Unpinned, every proof verifies (that is the attack) -- and the report says the claim is conditional.
    unpinned = api.verify(attack_bundle)
    assert unpinned.valid and unpinned.trust["pinned"] is False
    assert unpinned.manifest["totals"]["assets"]["USDC"]["debit"] == "1000000"
    # … and says no account is below maintenance, although mallory owes 1,000,000 USDC with nothing.
    assert unpinned.manifest["liquidations"]["accounts_below_maintenance"] == 0
    # The manifest says "no development setup": --require-ceremony no longer believes it.
    assert failed(api.verify(attack_bundle, require_ceremony=True)) == {"ceremony"}
    # Pinned to the audited key of SolvencyBatch(1,1,2): the venue's key is not it.
    run = zksolv("verify", str(attack_bundle), "--require-ceremony", "--trusted-keys", str(trust_file))
    assert run.returncode == 1 and "[FAIL] verification key" in run.stdout and "INVALID:" in run.stdout


def test_setup_json_records_what_an_auditor_needs(honest):
    info = honest.keys.info
    assert info["ptau"]["identity"] == "development" and len(info["ptau"]["blake2b"]) == 128
    assert info["tools"]["zksolv"] and "circom" in info["tools"] and info["tools"]["snarkjs"]
    assert info["r1cs_sha256"] == hashlib.sha256(honest.keys.r1cs.read_bytes()).hexdigest()
    assert info["zkey_sha256"] == hashlib.sha256(honest.keys.zkey.read_bytes()).hexdigest()
