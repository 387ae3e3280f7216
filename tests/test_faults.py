"""Faults: a killed prover resumes to the same bundle; full or unwritable disks
give a clear error and leave nothing that looks complete."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from zksolv import api
from zksolv.verify import verify_bundle

from .conftest import HEADER
from .helpers import write_csv


def _accounts(path: Path, n: int) -> Path:
    rows = [[f"user-{i:03d}", str(5000 + i), f"0.0{i % 10}", "", f"-0.{i % 7}"] for i in range(n)]
    return write_csv(path, HEADER, rows)


def _prove_cmd(params, accounts, secret, keys, out) -> list[str]:
    return [
        sys.executable,
        "-m",
        "zksolv",
        "prove",
        "--params",
        str(params),
        "--accounts",
        str(accounts),
        "--secret",
        str(secret),
        "--keys",
        str(keys),
        "--out",
        str(out),
        "--json",
    ]


@pytest.mark.node
def test_sigkill_then_resume_gives_the_same_verified_bundle(small_keys, params_file, secret_file, tmp_path):
    accounts = _accounts(tmp_path / "accounts.csv", 28)  # capacity 32: 8 batches of 4
    out = tmp_path / "bundle"
    expected_root = api.commit(params_file, accounts, secret_file, batch_size=4).root
    cmd = _prove_cmd(params_file, accounts, secret_file, small_keys.dir, out)

    for kill_after in (2, 5):  # kill twice, at different points, with SIGKILL (no cleanup handlers run)
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, start_new_session=True)
        done = 0
        for line in proc.stdout:
            event = json.loads(line)
            done += event.get("event") == "batch"
            if done >= kill_after:
                os.killpg(proc.pid, signal.SIGKILL)
                break
        proc.wait()
        assert proc.returncode == -signal.SIGKILL
        assert not out.exists(), "a killed run must not leave a bundle"

    run = subprocess.run(cmd, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    events = [json.loads(line) for line in run.stdout.splitlines()]
    batches = [e for e in events if e.get("event") == "batch"]
    assert len(batches) == 8
    assert sum(e["resumed"] for e in batches) >= 5, "batches proved before the kills must be reused"
    assert events[0]["root"] == str(expected_root)
    report = verify_bundle(out)
    assert report.valid and report.manifest["root"] == str(expected_root)
    assert not list(tmp_path.glob(".bundle.work-*")), "the work folder is removed once the bundle exists"


@pytest.mark.node
@pytest.mark.parametrize(
    "breach, message",
    [
        ("repeats a result", "batch 0: the executor (custom executor) returned a result for a batch that is not"),
        ("stops early", "the executor (custom executor) stopped without results for 1 batches (1)"),
    ],
    ids=["repeats a result", "stops early"],
)
def test_an_executor_that_breaks_its_contract_fails_the_batch(
    small_keys, params_file, secret_file, tmp_path, breach, message
):
    """An executor owes one result per task; a custom one that repeats or drops a result is a failed batch
    (exit 4, like a worker's failure), never an internal error, and no bundle appears."""
    from zksolv.prove import prove
    from zksolv.scheduler import BatchError, run_inline

    def executor(tasks, on_retry=None):
        first = next(run_inline(tasks, on_retry))  # proves batch 0 only
        yield first
        if breach == "repeats a result":
            yield first

    accounts = _accounts(tmp_path / "accounts.csv", 6)  # capacity 8: 2 batches of 4
    with pytest.raises(BatchError, match=re.escape(message)) as err:
        prove(params_file, accounts, secret_file, small_keys.dir, tmp_path / "bundle", executor=executor)
    assert err.value.exit_code == 4 and "internal error" not in str(err.value)
    assert not (tmp_path / "bundle").exists()


def test_unwritable_output_is_a_clear_error(params_file, secret_file, tmp_path):
    accounts = _accounts(tmp_path / "accounts.csv", 3)
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "zksolv",
            "commit",
            "--params",
            str(params_file),
            "--accounts",
            str(accounts),
            "--secret",
            str(secret_file),
            "--out",
            str(blocker / "out"),
        ],
        capture_output=True,
        text=True,
    )
    assert run.returncode == 2 and "error:" in run.stderr and "Traceback" not in run.stderr, run.stderr


def test_existing_output_is_not_replaced_without_force(params_file, secret_file, tmp_path):
    accounts = _accounts(tmp_path / "accounts.csv", 3)
    out = tmp_path / "out"
    out.mkdir()
    (out / "precious.txt").write_text("keep me")
    args = [
        sys.executable,
        "-m",
        "zksolv",
        "commit",
        "--params",
        str(params_file),
        "--accounts",
        str(accounts),
        "--secret",
        str(secret_file),
        "--out",
        str(out),
    ]
    run = subprocess.run(args, capture_output=True, text=True)
    assert run.returncode == 2 and "--force" in run.stderr
    assert (out / "precious.txt").read_text() == "keep me"
    assert subprocess.run([*args, "--force"], capture_output=True, text=True).returncode == 0
    assert (out / "commitment.json").exists() and not (out / "precious.txt").exists()


@pytest.fixture
def tiny_disk(tmp_path):
    mount = tmp_path / "tiny"
    mount.mkdir()
    if (
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mount)], capture_output=True).returncode
        != 0
    ):
        pytest.skip("cannot mount a tmpfs here (needs root)")
    yield mount
    subprocess.run(["umount", str(mount)], check=False)


def test_disk_full_leaves_nothing_half_written(params_file, secret_file, tmp_path, tiny_disk):
    accounts = _accounts(tmp_path / "accounts.csv", 120)  # ~120 inclusion proofs of ~2.5 kB > 64 kB
    out = tiny_disk / "out"
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "zksolv",
            "commit",
            "--params",
            str(params_file),
            "--accounts",
            str(accounts),
            "--secret",
            str(secret_file),
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
    )
    assert run.returncode == 2, run.stdout + run.stderr
    assert "No space left on device" in run.stderr and "Traceback" not in run.stderr
    assert list(tiny_disk.iterdir()) == [], "no output and no temporary folder may remain"
