"""The multi-party phase-2 ceremony (issue 16 part 5; zksolv/ceremony.py, docs/CEREMONY.md).

One ceremony on the smallest shape, SolvencyBatch(1, 1, 2), from the cached development ptau:
`init`, three contributors (one through the CLI with an entropy file), a beacon, `verify`,
`export` into a keys folder, `audit-setup` of that folder, a bundle proved with it and verified
against the audit. The contribution hashes zksolv reads from the zkey in Python are compared
with what snarkjs prints (`contribute` and `zkey verify`, through the audit). Then the
refusals: a transcript listing a contribution the key lacks, keys from another chain, a
contribution cut out of the key, a key of another circuit handed to `contribute`, a
contribution after the beacon, an export before anyone contributed.
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

from zksolv import api, ceremony, snarkjs
from zksolv.audit import AuditReport, blake2b_file
from zksolv.binfile import scan
from zksolv.ceremony import TRANSCRIPT, read_phase2
from zksolv.errors import ArgumentError, InputError

from .conftest import TINY_ACCOUNTS, TINY_PARAMS, TINY_SHAPE
from .helpers import REPO
from .test_json_contract import validate

pytestmark = pytest.mark.node

SHAPE = TINY_SHAPE
CONTRIBUTORS = ["alice (auditor)", "bob (account holder)", "carol (another venue)"]
BEACON = "4fe3c1b7" * 8  # as if the hash of a block announced in advance
BEACON_SOURCE = "test: block 1000 hash"


def zksolv(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "zksolv", *args], capture_output=True, text=True, cwd=REPO)


def snapshot(folder: Path, target: Path) -> Path:
    shutil.copytree(folder, target)
    return target


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """The whole ceremony, with snapshots of the folder after init and before the beacon."""
    from zksolv.setup import cached_setup, dev_ptau

    dev_keys = cached_setup(*SHAPE)  # the development keys of the same circuit: a key from another chain
    ptau = dev_ptau(dev_keys.info["ptau"]["power"])
    root = tmp_path_factory.mktemp("ceremony")
    params = root / "params.json"
    params.write_text(json.dumps(TINY_PARAMS))
    folder = root / "ceremony"
    init = zksolv(
        "ceremony", "init", "--params", str(params), "--batch-size", str(SHAPE[2]), "--ptau", str(ptau),
        "--out", str(folder), "--json",
    )  # fmt: skip
    assert init.returncode == 0, init.stdout + init.stderr
    transcript = ceremony.load_transcript(folder)
    validate("ceremony-init", json.loads(init.stdout))
    assert json.loads(init.stdout) == {"ceremony": str(folder), **transcript.model_dump()}
    initial = snapshot(folder, root / "initial")

    calls: list[tuple[tuple[str, ...], str | None]] = []
    real_run = snarkjs.run

    def recording_run(*args: str, what: str, check: bool = True, stdin: str | None = None):
        calls.append((args, stdin))
        return real_run(*args, what=what, check=check, stdin=stdin)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(ceremony.snarkjs, "run", recording_run)
        entries = [api.ceremony_contribute(folder, CONTRIBUTORS[0])]
    entropy = root / "bob.entropy"
    entropy.write_bytes(b"dice rolls: 3 1 4 1 5 9 2 6")
    cli = zksolv("ceremony", "contribute", str(folder), "--name", CONTRIBUTORS[1], "--entropy-file", str(entropy))
    assert cli.returncode == 0, cli.stdout + cli.stderr
    entries.append(ceremony.load_transcript(folder).contributions[-1])
    carol = zksolv("ceremony", "contribute", str(folder), "--name", CONTRIBUTORS[2], "--json")
    assert carol.returncode == 0, carol.stdout + carol.stderr
    validate("ceremony-contribute", json.loads(carol.stdout))
    entries.append(ceremony.CeremonyContribution.model_validate(json.loads(carol.stdout)))
    before_beacon = snapshot(folder, root / "before-beacon")
    beacon = zksolv(
        "ceremony", "beacon", str(folder), "--hash", BEACON, "--iterations-exp", "10", "--source", BEACON_SOURCE
    )
    assert beacon.returncode == 0, beacon.stdout + beacon.stderr
    entries.append(ceremony.load_transcript(folder).contributions[-1])
    validate("ceremony-beacon", entries[-1].model_dump())  # what `ceremony beacon --json` prints
    return SimpleNamespace(
        root=root,
        params=params,
        ptau=ptau,
        folder=folder,
        initial=initial,
        before_beacon=before_beacon,
        transcript=transcript,
        entries=entries,
        calls=calls,
        cli_output=cli.stdout + beacon.stdout,
        dev_keys=dev_keys,
    )


@pytest.fixture(scope="module")
def verified(run):
    return api.ceremony_verify(run.folder, run.ptau)


@pytest.fixture(scope="module")
def exported(run, verified):
    from zksolv.setup import load_keys

    assert verified.passed
    cli = zksolv("ceremony", "export", str(run.folder), "--out", str(run.root / "keys"), "--json")
    assert cli.returncode == 0, cli.stdout + cli.stderr
    keys = load_keys(run.root / "keys")
    assert json.loads(cli.stdout) == {"keys": str(run.root / "keys"), **keys.info}
    validate("ceremony-export", json.loads(cli.stdout))
    return keys


@pytest.fixture(scope="module")
def audit(exported, run) -> tuple[AuditReport, Path]:
    cli = zksolv("audit-setup", str(exported.dir), "--ptau", str(run.ptau), "--json")
    assert cli.returncode == 0, cli.stdout + cli.stderr
    path = run.root / "trusted-keys.json"
    path.write_text(cli.stdout)
    return AuditReport.model_validate_json(cli.stdout), path


# ---------------------------------------------------------------------------
# the ceremony


def test_init_records_shape_circuit_and_ptau(run):
    t = run.transcript
    assert (t.n_assets, t.n_markets, t.batch_size) == SHAPE and t.contributions == []
    assert t.ptau.blake2b == blake2b_file(run.ptau) and t.ptau.file == run.ptau.name
    assert t.ptau.identity == "development" and t.ptau.power == run.dev_keys.info["ptau"]["power"]
    assert t.r1cs_sha256 == run.dev_keys.info["r1cs_sha256"]  # the same compiled circuit
    initial = run.initial / t.initial_zkey
    assert t.initial_zkey_sha256 == hashlib.sha256(initial.read_bytes()).hexdigest()
    # The circuit hash snarkjs computes from r1cs and ptau: the development keys of the same circuit
    # and ptau start from the same one.
    assert t.circuit_hash == read_phase2(initial).circuit_hash == read_phase2(run.dev_keys.zkey).circuit_hash
    assert read_phase2(initial).contributions == []
    assert sorted(p.name for p in run.initial.iterdir()) == ["ceremony.json", "circuit_0000.zkey"]


def test_three_contributions_and_a_beacon_are_recorded(run):
    t = ceremony.load_transcript(run.folder)
    assert [c.name for c in t.contributions] == [*CONTRIBUTORS, "beacon"]
    assert [c.index for c in t.contributions] == [1, 2, 3, 4] and t.closed
    assert [c.zkey for c in t.contributions] == [f"circuit_{i:04d}.zkey" for i in range(1, 5)]
    assert t.contributions[-1].beacon is not None
    assert (t.contributions[-1].beacon.hash, t.contributions[-1].beacon.iterations_exp) == (BEACON, 10)
    assert t.contributions[-1].beacon.source == BEACON_SOURCE
    assert all(c.beacon is None for c in t.contributions[:3])
    assert len({c.hash for c in t.contributions}) == 4
    # Each key holds its predecessors' contributions plus one, as zksolv reads the file.
    for entry in t.contributions:
        phase2 = read_phase2(run.folder / entry.zkey)
        assert phase2.consistent and [c.hash for c in phase2.contributions] == [
            c.hash for c in t.contributions[: entry.index]
        ]
    # The CLI printed each hash; snarkjs's own "Contribution Hash" was checked against it by contribute.
    assert t.contributions[1].hash in run.cli_output and t.contributions[3].hash in run.cli_output
    # Nothing but the transcript and the keys is left in the folder: no secret, no temp file.
    assert sorted(p.name for p in run.folder.iterdir()) == [
        "ceremony.json",
        *(f"circuit_{i:04d}.zkey" for i in range(5)),
    ]


def test_the_entropy_goes_to_snarkjs_on_stdin_never_on_the_command_line(run):
    [(args, stdin)] = [c for c in run.calls if c[0][:2] == ("zkey", "contribute")]
    assert stdin is not None and len(stdin.strip()) == 128  # 64 bytes of os.urandom, hex
    assert not any(stdin.strip() in a for a in args) and not any(a.startswith(("-e", "--entropy")) for a in args)


def test_verify_passes_and_lists_the_contributions(run, verified):
    assert verified.passed, verified.checks
    validate("ceremony-verify", verified.document())  # what `ceremony verify --json` prints
    assert {c.name for c in verified.checks} == {
        "transcript",
        "circuit",
        "ptau",
        "snarkjs zkey verify",
        "contributions",
    }
    assert [(c.index, c.name) for c in verified.contributions] == [
        (1, CONTRIBUTORS[0]),
        (2, CONTRIBUTORS[1]),
        (3, CONTRIBUTORS[2]),
        (4, "beacon"),
    ]
    assert [c.hash for c in verified.contributions] == [e.hash for e in run.entries]
    assert verified.contributions[3].beacon is not None and verified.contributions[3].beacon.hash == BEACON
    assert not any("beacon" in w for w in verified.warnings)  # closed by its beacon
    assert any("INSECURE" in w for w in verified.warnings)  # the test's ptau is a development one


def test_verify_text_lists_each_contribution(run, verified, monkeypatch):
    """The CLI's rendering of that report (the api call replaced by its result: no second zkey verify)."""
    from click.testing import CliRunner

    from zksolv.cli import main

    monkeypatch.setattr(api, "ceremony_verify", lambda *args, **kwargs: verified)
    result = CliRunner().invoke(main, ["ceremony", "verify", str(run.folder), "--ptau", str(run.ptau)])
    assert result.exit_code == 0, result.output
    for entry in run.entries:
        assert f"contribution #{entry.index} {entry.name}: {entry.hash}" in result.output
    assert f"(beacon {BEACON}, 2^10 SHA-256 rounds)" in result.output
    assert (
        "[ok] snarkjs zkey verify" in result.output
        and "PASSED: SolvencyBatch(1,1,2), 4 contribution(s)" in result.output
    )


def test_exported_keys_record_the_ptau_and_every_contribution(run, exported):
    info = exported.info
    assert info["ptau"]["blake2b"] == blake2b_file(run.ptau) and info["ptau"]["identity"] == "development"
    recorded = info["phase2"]["contributions"]
    assert [(c["name"], c["hash"], c["beacon"]) for c in recorded] == [
        (e.name, e.hash, e.beacon is not None) for e in run.entries
    ]
    assert info["phase2"]["ceremony_sha256"] == hashlib.sha256((run.folder / TRANSCRIPT).read_bytes()).hexdigest()
    assert exported.zkey.read_bytes() == (run.folder / "circuit_0004.zkey").read_bytes()
    assert info["r1cs_sha256"] == run.transcript.r1cs_sha256
    # verification_key.json is snarkjs's export of the ceremony's last key.
    vkey = run.root / "vkey.json"
    snarkjs.export_verification_key(run.folder / "circuit_0004.zkey", vkey)
    assert exported.verification_key.read_bytes() == vkey.read_bytes()


def test_audit_accepts_the_ceremony_keys_and_lists_the_contributions(run, audit):
    report, _ = audit
    assert report.passed, [c for c in report.checks if not c.ok]
    # The list comes from snarkjs zkey verify's printout of the zkey (zksolv.audit.parse_zkey_verify):
    # it is the independent reading of the hashes zksolv computed in Python.
    assert [(c.index, c.name, c.hash) for c in report.phase2_contributions] == [
        (e.index, e.name, e.hash) for e in run.entries
    ]
    assert [c.beacon is not None for c in report.phase2_contributions] == [False, False, False, True]
    assert report.phase2_contributions[3].beacon.hash == BEACON
    assert next(c for c in report.checks if c.name == "phase-2 record").ok


@pytest.mark.slow  # a second audit (25 s); the fast suite covers the audit's list (from snarkjs's zkey verify)
def test_audit_lists_the_zkey_not_the_venues_setup_json(run, exported, tmp_path):
    """The venue renames a contributor in setup.json: the audit still lists the zkey's names (text
    output), and fails the setup.json check."""
    keys = tmp_path / "keys"
    shutil.copytree(exported.dir, keys)
    info = json.loads((keys / "setup.json").read_text())
    info["phase2"]["contributions"][0]["name"] = "the venue's friend"
    (keys / "setup.json").write_text(json.dumps(info))
    text = zksolv("audit-setup", str(keys), "--ptau", str(run.ptau))
    assert text.returncode == 1, text.stdout + text.stderr
    for entry in run.entries:
        assert f"phase-2 contribution #{entry.index} {entry.name}: {entry.hash}" in text.stdout
    assert f"(beacon {BEACON}, 2^10 SHA-256 rounds)" in text.stdout and "the venue's friend" not in text.stdout
    assert "[FAIL] setup.json: disagrees with the files: phase2.contributions" in text.stdout
    assert "[ok] proving key" in text.stdout and "[ok] phase-2 record" in text.stdout


def test_a_bundle_proved_with_the_ceremony_keys_verifies_against_the_audit(run, exported, audit):
    from .test_audit import make_bundle

    _, trust_file = audit
    bundle = make_bundle(exported.dir, run.root / "bundle", TINY_ACCOUNTS)
    manifest = json.loads((bundle / "manifest.json").read_text())
    assert manifest["setup"]["ptau"] == {"name": run.ptau.name, "blake2b": blake2b_file(run.ptau)}
    assert manifest["setup"]["contributions"] == [
        {"name": e.name, "hash": e.hash, "beacon": e.beacon is not None} for e in run.entries
    ]
    report = api.verify(bundle, trusted_keys=[trust_file])
    assert report.valid, [c for c in report.checks if not c.ok]
    assert report.trust["by"] == "audit"
    statement = report.trust["statement"]
    assert "3 phase-2 contribution(s) (alice (auditor), bob (account holder), carol (another venue))" in statement
    assert "and 1 beacon(s)" in statement
    assert len(report.trust["audit"]["phase2_contributions"]) == 4
    assert not any("other phase-2 contributions" in w for w in report.warnings)
    # The venue's manifest claims another contributor: the audit's list (from the zkey) wins, with a warning.
    from .test_bundle_mutations import rehash

    forged = run.root / "forged-bundle"
    shutil.copytree(bundle, forged)
    manifest["setup"]["contributions"][0]["name"] = "Big Four Auditor"
    (forged / "manifest.json").write_text(json.dumps(manifest, indent=1))
    rehash(forged)
    report = api.verify(forged, trusted_keys=[trust_file])
    assert report.valid and "alice (auditor)" in report.trust["statement"]
    assert "Big Four Auditor" not in report.trust["statement"]
    assert any(
        "the manifest lists other phase-2 contributions than the audited key holds" in w for w in report.warnings
    )


# ---------------------------------------------------------------------------
# refusals


def test_a_transcript_listing_a_contribution_not_in_the_zkey_is_refused(run, tmp_path):
    folder = snapshot(run.folder, tmp_path / "c")
    doc = json.loads((folder / TRANSCRIPT).read_text())
    fake = dict(doc["contributions"][-1], index=5, name="mallory", hash="ab" * 64, beacon=None)
    doc["contributions"].append(fake)  # names the same key file, which lacks it
    (folder / TRANSCRIPT).write_text(json.dumps(doc))
    report = api.ceremony_verify(folder, run.ptau)
    assert not report.passed
    validate("ceremony-verify", report.document())
    detail = next(c.detail for c in report.checks if c.name == "transcript")
    assert "lists contribution #5 'mallory'" in detail and "circuit_0004.zkey does not contain" in detail
    assert next(c.detail for c in report.checks if c.name == "snarkjs zkey verify").startswith("not run")
    cli = zksolv("ceremony", "verify", str(folder), "--ptau", str(run.ptau))
    assert cli.returncode == 1 and "[FAIL] transcript" in cli.stdout and "FAILED" in cli.stdout
    assert "contribution #4 beacon" in cli.stdout  # the transcript's list is still shown
    with pytest.raises(InputError, match="lists contribution #5 'mallory'"):
        api.ceremony_contribute(folder, "dave")
    with pytest.raises(InputError, match="lists contribution #5 'mallory'"):
        api.ceremony_export(folder, tmp_path / "keys")
    assert not (tmp_path / "keys").exists()


def test_a_key_from_another_chain_is_refused(run, tmp_path):
    """The development keys of the very same circuit and ptau, put where the ceremony's last key was:
    same circuit hash, but their one contribution is none of the ceremony's."""
    folder = snapshot(run.folder, tmp_path / "c")
    shutil.copyfile(run.dev_keys.zkey, folder / "circuit_0004.zkey")
    report = api.ceremony_verify(folder, run.ptau)
    assert not report.passed
    detail = next(c.detail for c in report.checks if c.name == "transcript")
    assert "contribution #1 'alice (auditor)'" in detail and "another chain of contributions" in detail
    assert "circuit hash" not in detail  # same circuit: only the chain differs
    with pytest.raises(InputError, match="another chain of contributions"):
        api.ceremony_export(folder, tmp_path / "keys")


def test_a_key_with_the_beacon_removed_or_a_contribution_cut_out_is_refused(run, tmp_path):
    folder = snapshot(run.folder, tmp_path / "c")
    shutil.copyfile(run.folder / "circuit_0003.zkey", folder / "circuit_0004.zkey")  # the beacon dropped
    report = api.ceremony_verify(folder, run.ptau)
    assert not report.passed
    assert "lists contribution #4 'beacon'" in next(c.detail for c in report.checks if c.name == "transcript")

    # bob's contribution deleted from section 10 of the last key, everything else unchanged.
    cut = folder / "circuit_0004.zkey"
    shutil.copyfile(run.folder / "circuit_0004.zkey", cut)
    drop_contribution(cut, 2)
    phase2 = read_phase2(cut)
    assert [c.name for c in phase2.contributions] == [CONTRIBUTORS[0], CONTRIBUTORS[2], "beacon"]
    assert [c.chained for c in phase2.contributions] == [True, False, False] and not phase2.consistent
    report = api.ceremony_verify(folder, run.ptau)
    detail = next(c.detail for c in report.checks if c.name == "transcript")
    assert not report.passed and "does not chain" in detail and "'bob (account holder)'" in detail


def test_a_key_whose_points_were_edited_is_refused(run, tmp_path):
    """Same contributions section, one byte of the H points flipped: the file is not the recorded one
    (and snarkjs zkey verify would reject its points)."""
    folder = snapshot(run.folder, tmp_path / "c")
    key = folder / "circuit_0004.zkey"
    [h_points] = scan(key, b"zkey").all(9)
    data = bytearray(key.read_bytes())
    data[h_points.start + 5] ^= 1
    key.write_bytes(bytes(data))
    assert read_phase2(key).consistent  # the contributions section is untouched
    with pytest.raises(InputError, match="its SHA-256 is not the one the transcript records"):
        api.ceremony_export(folder, tmp_path / "keys")


def test_contribute_refuses_a_key_of_another_circuit(run, small_keys, tmp_path):
    folder = snapshot(run.before_beacon, tmp_path / "c")
    shutil.copyfile(small_keys.zkey, folder / "circuit_0003.zkey")  # SolvencyBatch(2,2,4)'s key
    before = sorted(p.name for p in folder.iterdir()), (folder / TRANSCRIPT).read_bytes()
    with pytest.raises(InputError, match="a key for another circuit or ptau") as refused:
        api.ceremony_contribute(folder, "dave")
    assert "circuit_0003.zkey" in str(refused.value)
    assert (sorted(p.name for p in folder.iterdir()), (folder / TRANSCRIPT).read_bytes()) == before
    cli = zksolv("ceremony", "contribute", str(folder), "--name", "dave")
    assert cli.returncode == 2 and "a key for another circuit or ptau" in cli.stderr


def test_no_contribution_after_the_beacon(run):
    before = (run.folder / TRANSCRIPT).read_bytes()
    with pytest.raises(InputError, match="closed by the beacon 'beacon' \\(#4\\)"):
        api.ceremony_contribute(run.folder, "late")
    assert (run.folder / TRANSCRIPT).read_bytes() == before


def test_export_needs_a_contribution(run, tmp_path):
    folder = snapshot(run.initial, tmp_path / "c")
    with pytest.raises(InputError, match="no contribution yet"):
        api.ceremony_export(folder, tmp_path / "keys")
    assert not (tmp_path / "keys").exists()


def test_wrong_ptau_is_named(run):
    from zksolv.setup import dev_ptau

    other = dev_ptau(run.transcript.ptau.power + 1)  # a bigger one, which would fit the circuit too
    report = api.ceremony_verify(run.folder, other)
    detail = next(c.detail for c in report.checks if c.name == "ptau")
    assert not report.passed and "is not the ptau the ceremony started from" in detail


def test_arguments_are_checked_before_anything_runs(run, tmp_path):
    for name in ("", "two\nlines", "x" * 65):
        with pytest.raises(ArgumentError):
            api.ceremony_contribute(run.before_beacon, name)
    for value in ("xyz", "abc", ""):
        with pytest.raises(ArgumentError, match="beacon_hash"):
            api.ceremony_beacon(run.before_beacon, value)
    with pytest.raises(ArgumentError, match="iterations_exp"):
        api.ceremony_beacon(run.before_beacon, BEACON, 9)
    with pytest.raises(ArgumentError, match="ptau"):
        api.ceremony_init(run.params, tmp_path / "c", None, 2)  # type: ignore[arg-type]
    with pytest.raises(InputError, match="not a zksolv-ceremony/1 transcript"):
        (tmp_path / "x").mkdir()
        (tmp_path / "x" / TRANSCRIPT).write_text("{}")
        api.ceremony_contribute(tmp_path / "x", "dave")


# ---------------------------------------------------------------------------
# circuit info names the ptau a shape needs


def test_circuit_info_names_the_ptau_power_and_the_public_file(run):
    from zksolv.audit import KNOWN_PTAU_FILE

    info = api.circuit_info(run.params, SHAPE[2])
    validate("circuit-info", info)
    # The smallest p with 2^p ≥ constraints + public signals + 1 (snarkjs zkey_new.js), counted here.
    need = next(p for p in range(1, 29) if 2**p >= info["constraints"] + info["public_inputs"] + 1)
    assert info["ptau_power"] == need == run.transcript.ptau.power
    published = {f["name"]: f for f in json.loads(KNOWN_PTAU_FILE.read_text())["files"]}
    public = info["ceremony_ptau"]
    assert public["name"] == f"powersOfTau28_hez_final_{max(need, 8):02d}.ptau"
    assert public["blake2b"] == published[public["name"]]["blake2b"] and public["url"].endswith(public["name"])
    text = zksolv("circuit", "info", "--params", str(run.params), "--batch-size", str(SHAPE[2]))
    assert text.returncode == 0 and f"ptau_power: {need}" in text.stdout and public["blake2b"] in text.stdout


# ---------------------------------------------------------------------------
# helpers


def drop_contribution(path: Path, index: int) -> None:
    """Rewrite section 10 of a zkey without contribution #`index` (snarkjs layout, zkey_utils.js),
    leaving every point of the key as it was."""
    table = scan(path, b"zkey")
    [section] = table.all(10)
    data = path.read_bytes()
    payload = data[section.start : section.start + section.size]
    n8q = 32
    fixed = 3 * 2 * n8q + 4 * n8q + 64 + 8
    (count,) = struct.unpack_from("<I", payload, 64)
    pos, parts = 68, []
    for _ in range(count):
        (length,) = struct.unpack_from("<I", payload, pos + fixed - 4)
        parts.append(payload[pos : pos + fixed + length])
        pos += fixed + length
    del parts[index - 1]
    new = payload[:64] + struct.pack("<I", count - 1) + b"".join(parts)
    assert section.start + section.size == len(data), "section 10 is the last one snarkjs writes"
    head = data[: section.start - 12] + struct.pack("<IQ", 10, len(new))
    path.write_bytes(head + new)
