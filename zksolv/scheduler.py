"""Where batches are proved: in this process, in a local process pool, or on a Dask cluster.

A batch is proved by `prove_one_batch(task)`, a plain function that runs in the
worker: circom witness (the keys' native C++ generator where it runs, else Node,
WASM) → Groth16 proof (snarkjs or arkworks, see
`zksolv.provers`) → check that the proof's public signals are the statement's.
It returns the proof.json/public.json text; the orchestrator (`zksolv.prove`)
checks each proof and renames it into its resumable work folder, so workers
write nothing shared.

What is shipped to a worker (`BatchTask`) is small: one batch's circuit input
(a few kB of integers), the expected public signals, the name of the prover
and the **path** of the keys folder as the worker sees it, with the SHA-256 of
the proving key (.zkey). Keys are not shipped (the .zkey of a 64-account batch
is ~80 MB): a worker must see the keys folder at that path (a shared or
identical copy; `zksolv prove --worker-keys` names it when it differs from the
orchestrator's). A worker checks the .zkey's hash once per process and refuses
another key. The circuit input holds the batch's private balances: on a network
that is not the venue's own, use Dask's TLS (`tls://` addresses, `distributed.comm.tls`).
Local workers write the witness (private too) in the run's work folder, which is
removed with the run; Dask workers in their own temporary folder (mode 0700).

Executors are generator functions `(tasks, on_retry) -> results in completion
order`; they pull tasks lazily, keeping at most two per worker in flight, so
inputs are built on demand and a large snapshot is never all in memory.

- `run_inline`: one batch after the other in this process.
- `run_local_pool`: N worker processes (`concurrent.futures`, forkserver). A
  task that raises is resubmitted; when a worker process dies the pool is
  broken: every batch that was in flight is resubmitted to a new pool. A batch
  fails the run after `retries` retries.
- `run_dask`: a Dask distributed cluster (`tcp://host:port`). Exceptions are
  retried by Dask (`submit(..., retries=)`); a batch whose worker dies is
  rescheduled by the Dask scheduler on another worker (up to
  `distributed.scheduler.allowed-failures`, default 3, then `KilledWorker`).
  Start workers with one thread each: `dask worker tcp://host:8786 --nthreads 1`
  (snarkjs is multi-threaded itself; arkworks is one thread: one worker per core).
"""

from __future__ import annotations

import collections
import json
import multiprocessing
import os
import resource
import shutil
import socket
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Generator, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from .circuit import CompiledCircuit, compute_witness
from .errors import ToolchainError
from .provers import get_prover
from .setup import Keys, load_keys, sha256_file

if TYPE_CHECKING:  # Dask is optional: run_dask imports it at run time
    from dask.typing import Key
    from distributed import Future as DaskFuture


class BatchError(ToolchainError):
    """A batch could not be proved (wrong keys on a worker, a proof of another statement, a worker
    that failed or died once too often)."""


@dataclass(frozen=True)
class BatchTask:
    """Everything a worker needs to prove one batch (picklable, a few kB)."""

    index: int
    circuit_input: dict
    expected_public: tuple[str, ...]
    keys_dir: str  # the keys folder as the worker sees it
    zkey_sha256: str
    prover: str = "snarkjs"
    accounts: int = 0  # batch size, for rates
    scratch_dir: str | None = None  # where the witness is written (None: the worker's temporary folder)


@dataclass(frozen=True)
class BatchResult:
    index: int
    proof_json: str  # snarkjs's proof.json text
    public_json: str  # snarkjs's public.json text
    seconds: float  # wall, in the worker
    cpu_seconds: float  # worker process + its children (Node)
    witness_seconds: float
    prove_seconds: float
    worker: str  # host:pid
    worker_cpu_seconds: float = 0.0  # the worker process's CPU so far (with its finished children)
    worker_peak_rss_mb: float = 0.0  # the larger of the worker's and its largest child's (Node) peak RSS


OnRetry = Callable[[int, int, str], None]  # (batch index, attempt that failed, reason)
Executor = Callable[..., Generator[BatchResult, None, None]]  # (tasks, on_retry=None) -> results; prove closes it


# --------------------------------------------------------------------------
# in the worker

_keys_cache: dict[tuple[str, str], Keys] = {}
_keys_lock = threading.Lock()


def worker_keys(keys_dir: str, zkey_sha256: str) -> Keys:
    """The keys folder at `keys_dir`, once its .zkey is checked to have this SHA-256
    (hashed once per process and folder)."""
    with _keys_lock:
        cached = _keys_cache.get((keys_dir, zkey_sha256))
        if cached is not None:
            return cached
        keys = load_keys(keys_dir)
        if keys.info["zkey_sha256"] != zkey_sha256 or sha256_file(keys.zkey) != zkey_sha256:
            raise BatchError(
                f"{keys_dir} on worker {_worker_id()} holds another proving key than this run's "
                f"(zkey sha256 {zkey_sha256[:16]}…): workers must see the same keys folder"
            )
        _keys_cache[(keys_dir, zkey_sha256)] = keys
        return keys


def circuit_of(keys: Keys) -> CompiledCircuit:
    n_assets, n_markets, batch_size = keys.shape
    return CompiledCircuit(
        dir=keys.dir,
        r1cs=keys.r1cs,
        wasm=keys.wasm,
        sym=keys.dir / "circuit.sym",
        K=n_assets,
        M=n_markets,
        B=batch_size,
        tiers=keys.tiers,
        scenarios=keys.scenarios,
        native=keys.native_witness,
    )


def _worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _cpu_seconds() -> float:
    """CPU time of this process and of its finished children (the Node subprocesses)."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


def _peak_rss_mb() -> float:
    """Peak RSS of this process or of its largest finished child (Linux reports KiB)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return max(own.ru_maxrss, children.ru_maxrss) / 1024


def prove_one_batch(task: BatchTask) -> BatchResult:
    """Witness, proof and the check that the proof is of this batch's statement."""
    started, cpu = time.monotonic(), _cpu_seconds()
    keys = worker_keys(task.keys_dir, task.zkey_sha256)
    prover = get_prover(task.prover)
    scratch = Path(tempfile.mkdtemp(prefix=f".witness-{task.index:06d}-", dir=task.scratch_dir))
    try:
        wtns = compute_witness(circuit_of(keys), task.circuit_input, scratch / "witness.wtns")
        witnessed = time.monotonic()
        proof_json, public_json = prover.prove(keys.zkey, wtns, scratch)
        proved = time.monotonic()
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    public = json.loads(public_json)
    if public != list(task.expected_public):
        raise BatchError(
            f"batch {task.index}: the proof's public signals {public} differ from the statement "
            f"{list(task.expected_public)}"
        )
    return BatchResult(
        task.index,
        proof_json,
        public_json,
        round(proved - started, 3),
        round(_cpu_seconds() - cpu, 3),
        round(witnessed - started, 3),
        round(proved - witnessed, 3),
        _worker_id(),
        round(_cpu_seconds(), 3),
        round(_peak_rss_mb(), 1),
    )


# --------------------------------------------------------------------------
# executors


def run_inline(
    tasks: Iterable[BatchTask],
    on_retry: OnRetry | None = None,
    fn: Callable[[BatchTask], BatchResult] = prove_one_batch,
) -> Generator[BatchResult, None, None]:
    """In this process, one batch after the other (an error stops the run: nothing to retry)."""
    for task in tasks:
        yield fn(task)


def run_local_pool(
    tasks: Iterable[BatchTask],
    on_retry: OnRetry | None = None,
    *,
    workers: int,
    retries: int = 2,
    fn: Callable[[BatchTask], BatchResult] = prove_one_batch,
) -> Generator[BatchResult, None, None]:
    """`workers` local processes; failed or lost batches are resubmitted (see the module doc).
    When a batch has no retry left, the batches still in flight are finished (and yielded, so
    the orchestrator keeps them for a resumed run) before the error is raised."""
    context = multiprocessing.get_context("forkserver")
    pending = iter(tasks)
    requeued: collections.deque[BatchTask] = collections.deque()
    failures: collections.Counter[int] = collections.Counter()
    inflight: dict[Future, BatchTask] = {}
    fatal: BaseException | None = None
    pool = ProcessPoolExecutor(workers, mp_context=context)

    def failed(task: BatchTask, reason: str, exc: BaseException) -> None:
        nonlocal fatal
        failures[task.index] += 1
        if failures[task.index] > retries:
            if fatal is None:
                fatal = BatchError(
                    f"batch {task.index}: failed {failures[task.index]} times (retries={retries}); last: {reason}"
                )
                fatal.__cause__ = exc
            return
        if on_retry:
            on_retry(task.index, failures[task.index], reason)
        requeued.append(task)

    try:
        while True:
            while fatal is None and len(inflight) < 2 * workers:
                task = requeued.popleft() if requeued else next(pending, None)
                if task is None:
                    break
                inflight[pool.submit(fn, task)] = task
            if not inflight:
                break
            done, _ = wait(inflight, return_when=FIRST_COMPLETED)
            broken = any(isinstance(f.exception(), BrokenProcessPool) for f in done)
            if broken:  # every other batch in flight is lost with the pool: collect them all
                wait(inflight)
                done = set(inflight)
            for future in sorted(done, key=lambda f: inflight[f].index):
                task = inflight.pop(future)
                exc = future.exception()
                if exc is None:
                    yield future.result()
                elif isinstance(exc, BrokenProcessPool):
                    failed(task, "its worker process died", exc)
                else:
                    failed(task, f"{type(exc).__name__}: {exc}", exc)
            if broken:
                pool.shutdown(wait=True)
                pool = ProcessPoolExecutor(workers, mp_context=context)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    if fatal is not None:
        raise fatal


def run_dask(
    tasks: Iterable[BatchTask],
    on_retry: OnRetry | None = None,
    *,
    scheduler,
    retries: int = 2,
    fn: Callable[[BatchTask], BatchResult] = prove_one_batch,
) -> Generator[BatchResult, None, None]:
    """A Dask distributed cluster: `scheduler` is its address (tcp://host:port) or a Client."""
    try:
        import dask
        from distributed import Client, as_completed
    except ImportError:
        raise ToolchainError("proving on a Dask cluster needs Dask: pip install 'dask[distributed]'") from None
    own = not isinstance(scheduler, Client)
    if own:
        try:
            client = Client(scheduler, timeout=dask.config.get("distributed.comm.timeouts.connect"))
        except (OSError, TimeoutError) as exc:
            raise ToolchainError(f"cannot reach the Dask scheduler at {scheduler}: {exc}") from None
    else:
        client = scheduler
    where = scheduler if own else "of the given client"
    run = uuid.uuid4().hex[:12]
    pending = iter(tasks)
    inflight: dict[Key, tuple[DaskFuture[BatchResult], BatchTask]] = {}
    finished = as_completed()

    def fill() -> None:
        window = max(2, 2 * sum(client.nthreads().values()))
        while len(inflight) < window:
            task = next(pending, None)
            if task is None:
                return
            future = client.submit(fn, task, key=f"zksolv-batch-{task.index:06d}-{run}", retries=retries, pure=False)
            inflight[future.key] = (future, task)
            finished.add(future)

    fatal: BatchError | None = None
    try:
        fill()
        for future in finished:
            _, task = inflight.pop(future.key)
            try:
                result = future.result()
            except Exception as exc:  # Dask has used up the retries: finish what is in flight, then fail
                if fatal is None:
                    fatal = BatchError(
                        f"batch {task.index} failed on the Dask cluster {where} "
                        f"(retries={retries}): {type(exc).__name__}: {exc}"
                    )
                    fatal.__cause__ = exc
                continue
            finally:
                future.release()
            yield result
            if fatal is None:
                fill()
    finally:
        for future, _ in inflight.values():
            future.cancel()
        if own:
            client.close()
    if fatal is not None:
        raise fatal


def default_workers(prover: str) -> int:
    """arkworks is single-threaded: one worker per core. snarkjs is multi-threaded but keeps
    only ~1.3–1.7 cores busy on a 64-account batch (and Node start-up is serial): half the
    cores, at least two (on 2 cores, 2 workers prove 19% more per wall-second than 1 at the
    same CPU; bench/bench_parallel.py)."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return cores if prover == "arkworks" else min(cores, max(2, cores // 2))


def make_executor(workers: int = 1, scheduler=None, retries: int = 2) -> tuple[Executor, str]:
    """The executor for these options, and a description of it."""
    if scheduler is not None:
        return partial(run_dask, scheduler=scheduler, retries=retries), f"dask {scheduler}"
    if workers <= 1:
        return run_inline, "1 process"
    return partial(run_local_pool, workers=workers, retries=retries), f"{workers} local processes"
