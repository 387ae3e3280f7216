"""Parallel and distributed proving: a local process pool and a real Dask cluster give
bundles that verify and state exactly what a sequential run states; a worker that dies
mid-run has its batch proved again; an interrupted parallel run resumes."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
from functools import partial
from pathlib import Path

import pytest

from zksolv.bundle import batch_dir
from zksolv.errors import ZksolvError
from zksolv.prove import prove
from zksolv.scheduler import BatchError, BatchTask, prove_one_batch, run_dask, run_inline, run_local_pool
from zksolv.verify import verify_bundle

from .conftest import HEADER
from .helpers import write_csv

pytestmark = pytest.mark.node


# ---------------------------------------------------------------------------
# task functions run by the workers (module level: pickled by reference)


def kill_first_time(task: BatchTask, markers: str, index: int):
    """Prove the batch, except that the first attempt at batch `index` SIGKILLs its own
    worker process (as the OOM killer or a lost machine would)."""
    marker = Path(markers) / f"attempt-{task.index}-{os.getpid()}"
    if task.index == index and not list(Path(markers).glob(f"attempt-{task.index}-*")):
        marker.write_text("killed")
        os.kill(os.getpid(), signal.SIGKILL)
    Path(markers, f"proved-{task.index}-{os.getpid()}").write_text("ok")
    return prove_one_batch(task)


def fail_from(task: BatchTask, index: int):
    if task.index >= index:
        raise RuntimeError(f"simulated failure at batch {task.index}")
    return prove_one_batch(task)


def raise_first_time(task: BatchTask, markers: str):
    marker = Path(markers) / f"raised-{task.index}"
    if not marker.exists():
        marker.write_text("")
        raise OSError("simulated transient failure (a full scratch disk, a lost NFS mount)")
    return prove_one_batch(task)


def tampered(task: BatchTask):
    result = prove_one_batch(task)
    proof = json.loads(result.proof_json)
    proof["pi_a"], proof["pi_c"] = proof["pi_c"], proof["pi_a"]
    return dataclasses.replace(result, proof_json=json.dumps(proof))


def always_fails(task: BatchTask, markers: str):
    Path(markers, f"try-{task.index}-{len(list(Path(markers).iterdir()))}").write_text("")
    raise RuntimeError("boom")


# ---------------------------------------------------------------------------


def _accounts(path: Path, n: int) -> Path:
    rows = [[f"user-{i:03d}", str(5000 + i), f"0.0{i % 10}", "", f"-0.{i % 7}"] for i in range(n)]
    return write_csv(path, HEADER, rows)


def _statement(folder: Path) -> dict:
    """What a bundle states, proofs aside (Groth16 proofs are randomised)."""
    manifest = json.loads((folder / "manifest.json").read_text())
    publics = [json.loads((folder / batch_dir(i) / "public.json").read_text()) for i in range(manifest["n_batches"])]
    return {
        "root": manifest["root"],
        "final": manifest["final_accumulator"],
        "totals": manifest["totals"],
        "roots": json.loads((folder / "batch_roots.json").read_text()),
        "publics": publics,
        "vk": manifest["verification_key_sha256"],
    }


def _same_as_sequential(out: Path, bundle: dict) -> None:
    report = verify_bundle(out)
    assert report.valid, [c for c in report.checks if not c.ok]
    assert _statement(out) == _statement(bundle["bundle"])


@pytest.fixture(scope="module")
def cluster():
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None, silence_logs=40
    ) as cluster:
        yield cluster


@pytest.fixture
def four_batches(small_keys, params_file, secret_file, tmp_path):
    """13 accounts, capacity 16: 4 batches of 4."""
    return {
        "params": params_file,
        "accounts": _accounts(tmp_path / "accounts.csv", 13),
        "secret": secret_file,
        "keys": small_keys.dir,
    }


def _prove(inputs: dict, out: Path, **kwargs):
    events: list[dict] = []
    keys = kwargs.pop("keys", None) or inputs["keys"]
    result = prove(inputs["params"], inputs["accounts"], inputs["secret"], keys, out, on_event=events.append, **kwargs)
    return result, events


def test_dask_local_cluster_end_to_end(bundle, small_keys, cluster, tmp_path):
    out = tmp_path / "bundle"
    result, events = _prove(bundle, out, keys=small_keys.dir, scheduler=cluster.scheduler_address)
    assert result.proved == 2
    workers = {e["worker"] for e in events if e["event"] == "batch"}
    assert all(str(os.getpid()) not in w for w in workers), "batches must be proved on the cluster's workers"
    assert [e for e in events if e["event"] == "proving"][0]["executor"].startswith("dask tcp://")
    _same_as_sequential(out, bundle)


def test_cli_scheduler(bundle, small_keys, cluster, tmp_path):
    out = tmp_path / "bundle"
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "zksolv",
            "prove",
            "--params",
            str(bundle["params"]),
            "--accounts",
            str(bundle["accounts"]),
            "--secret",
            str(bundle["secret"]),
            "--keys",
            str(small_keys.dir),
            "--out",
            str(out),
            "--scheduler",
            cluster.scheduler_address,
            "--json",
        ],
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stderr
    events = [json.loads(line) for line in run.stdout.splitlines()]
    assert events[1]["executor"] == f"dask {cluster.scheduler_address}"
    assert sorted(e["index"] for e in events if e["event"] == "batch") == [0, 1]
    _same_as_sequential(out, bundle)


def test_dask_worker_killed_mid_run_is_retried(four_batches, cluster, tmp_path):
    markers = tmp_path / "markers"
    markers.mkdir()
    out = tmp_path / "bundle"
    executor = partial(
        run_dask,
        scheduler=cluster.scheduler_address,
        retries=2,
        fn=partial(kill_first_time, markers=str(markers), index=1),
    )
    result, events = _prove(four_batches, out, executor=executor)
    assert len(list(markers.glob("attempt-1-*"))) == 1, "the first attempt at batch 1 killed its worker"
    assert len(list(markers.glob("proved-1-*"))) == 1, "batch 1 was proved again, on a live worker"
    assert result.proved == 4 and sorted(e["index"] for e in events if e["event"] == "batch") == [0, 1, 2, 3]
    assert verify_bundle(out).valid


def test_dask_retries_a_failing_batch(bundle, small_keys, cluster, tmp_path):
    markers = tmp_path / "markers"
    markers.mkdir()
    out = tmp_path / "bundle"
    executor = partial(
        run_dask, scheduler=cluster.scheduler_address, retries=1, fn=partial(raise_first_time, markers=str(markers))
    )
    result, _ = _prove(bundle, out, keys=small_keys.dir, executor=executor)
    assert result.proved == 2 and len(list(markers.iterdir())) == 2
    _same_as_sequential(out, bundle)


def test_local_pool_end_to_end(bundle, small_keys, tmp_path):
    out = tmp_path / "bundle"
    result, events = _prove(bundle, out, keys=small_keys.dir, workers=2)
    assert result.proved == 2
    assert [e for e in events if e["event"] == "proving"][0]["executor"] == "2 local processes"
    _same_as_sequential(out, bundle)


def test_local_pool_worker_killed_mid_run_is_retried(four_batches, tmp_path):
    markers = tmp_path / "markers"
    markers.mkdir()
    out = tmp_path / "bundle"
    executor = partial(run_local_pool, workers=2, retries=2, fn=partial(kill_first_time, markers=str(markers), index=2))
    result, events = _prove(four_batches, out, executor=executor)
    retries = [e for e in events if e["event"] == "retry"]
    assert any(e["index"] == 2 and "died" in e["reason"] for e in retries), retries
    assert result.proved == 4 and sorted(e["index"] for e in events if e["event"] == "batch") == [0, 1, 2, 3]
    assert verify_bundle(out).valid


def test_a_batch_failing_every_time_stops_the_run_after_its_retries(four_batches, tmp_path):
    markers = tmp_path / "markers"
    markers.mkdir()
    executor = partial(run_local_pool, workers=2, retries=1, fn=partial(always_fails, markers=str(markers)))
    with pytest.raises(BatchError, match="failed 2 times.*boom"):
        _prove(four_batches, tmp_path / "bundle", executor=executor)
    assert not (tmp_path / "bundle").exists()


def test_interrupted_parallel_run_resumes(four_batches, tmp_path):
    out = tmp_path / "bundle"
    executor = partial(run_local_pool, workers=2, retries=0, fn=partial(fail_from, index=2))
    with pytest.raises(BatchError, match="simulated failure"):
        _prove(four_batches, out, executor=executor)
    assert not out.exists()
    (work,) = tmp_path.glob(".bundle.work-*")
    kept = sorted(p.name for p in (work / "batches").iterdir())
    assert {"000000", "000001"} <= set(kept), "batches proved before the failure are in the work folder"
    result, events = _prove(four_batches, out, workers=2)
    resumed = [e["index"] for e in events if e["event"] == "batch" and e["resumed"]]
    assert sorted(resumed) == [int(k) for k in kept] and result.proved == 4 - len(kept)
    assert verify_bundle(out).valid and not work.exists()


def test_a_proof_that_does_not_verify_is_never_stored(four_batches, tmp_path):
    with pytest.raises(ZksolvError, match="batch 0: the proof from worker .* does not verify"):
        _prove(four_batches, tmp_path / "bundle", executor=partial(run_inline, fn=tampered))
    (work,) = tmp_path.glob(".bundle.work-*")
    assert not (work / "batches").exists() and not (tmp_path / "bundle").exists()


def test_worker_with_other_keys_is_refused(four_batches, tmp_path, small_keys):
    from zksolv.scheduler import worker_keys

    with pytest.raises(BatchError, match="another proving key"):
        worker_keys(str(small_keys.dir), "0" * 64)


def test_cli_workers_json_progress_events(four_batches, tmp_path):
    out = tmp_path / "bundle"
    args = [
        sys.executable,
        "-m",
        "zksolv",
        "prove",
        "--params",
        str(four_batches["params"]),
        "--accounts",
        str(four_batches["accounts"]),
        "--secret",
        str(four_batches["secret"]),
        "--keys",
        str(four_batches["keys"]),
        "--out",
        str(out),
        "--workers",
        "2",
        "--prover",
        "snarkjs",
        "--json",
    ]
    run = subprocess.run(args, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    events = [json.loads(line) for line in run.stdout.splitlines()]
    assert [e["event"] for e in events] == ["committed", "proving"] + ["batch"] * 4 + ["done"]
    assert events[0]["batches"] == 4 and events[1] == {
        "event": "proving",
        "batches": 4,
        "resumed": 0,
        "prover": "snarkjs",
        "executor": "2 local processes",
    }
    batches = events[2:6]
    assert sorted(e["index"] for e in batches) == [0, 1, 2, 3]
    assert [e["done"] for e in batches] == [1, 2, 3, 4] and all(e["of"] == 4 and not e["resumed"] for e in batches)
    # The 13 real accounts, not the 16 slots with padding, each batch counting its own.
    assert sum(e["accounts"] for e in batches) == 13 and all(e["slots"] == 4 >= e["accounts"] for e in batches)
    for e in batches:
        assert e["seconds"] > 0 and e["cpu_seconds"] > 0 and e["accounts_per_s"] >= 0
        assert e["eta_s"] >= 0 and ":" in e["worker"]
    assert batches[-1]["eta_s"] == 0 and batches[-1]["accounts_per_s"] > 0
    assert len({e["worker"] for e in batches}) <= 2
    assert verify_bundle(out).valid


def test_cli_rejects_workers_with_scheduler(four_batches, tmp_path):
    args = [
        sys.executable,
        "-m",
        "zksolv",
        "prove",
        "--params",
        str(four_batches["params"]),
        "--accounts",
        str(four_batches["accounts"]),
        "--secret",
        str(four_batches["secret"]),
        "--keys",
        str(four_batches["keys"]),
        "--out",
        str(tmp_path / "b"),
        "--workers",
        "2",
        "--scheduler",
        "tcp://127.0.0.1:1",
    ]
    run = subprocess.run(args, capture_output=True, text=True)
    assert run.returncode == 2 and "exclude each other" in run.stderr


def test_unreachable_scheduler_is_a_clear_error(four_batches, tmp_path):
    dask = pytest.importorskip("dask")
    with dask.config.set({"distributed.comm.timeouts.connect": "1s"}):
        with pytest.raises(ZksolvError, match="cannot reach the Dask scheduler at tcp://127.0.0.1:9"):
            _prove(four_batches, tmp_path / "b", scheduler="tcp://127.0.0.1:9", workers=None)
    assert not (tmp_path / "b").exists()
