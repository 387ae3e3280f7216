"""The Node toolchain: where node and node_modules are, and running the tools, with one error type.

Both sides need Node: the prover to compile circuits, generate witnesses and run
snarkjs setup and prove; the verifier to run ``snarkjs groth16 verify`` and to render
Verifier.sol. So this module imports nothing from either side (tests/test_architecture.py
checks it), and every failure of a tool, including Node missing, is a ToolchainError
(exit code 4), carrying the tool's output.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

from .errors import ToolchainError

__all__ = [
    "REPO_ROOT",
    "ToolchainError",
    "available",
    "clean",
    "default_build_root",
    "node",
    "node_bin",
    "node_modules",
    "run",
    "run_node",
]

REPO_ROOT = Path(__file__).resolve().parent.parent


def node_modules() -> Path:
    """The Node toolchain: ``$ZKSOLV_NODE_MODULES`` or ``<repo>/node_modules``.

    Overridable so an installed package can point at a shared ``npm ci`` tree.
    """
    env = os.environ.get("ZKSOLV_NODE_MODULES")
    return Path(env).resolve() if env else REPO_ROOT / "node_modules"


def default_build_root() -> Path:
    """``<repo>/build`` (git-ignored): compiled circuits, contracts and development keys are cached here."""
    return REPO_ROOT / "build"


def node() -> str:
    """The `node` executable on PATH."""
    path = shutil.which("node")
    if path is None:
        raise ToolchainError("`node` is not on PATH: zksolv needs Node.js >= 18 for this")
    return path


def node_bin(name: str) -> Path:
    """An executable installed by npm (node_modules/.bin/NAME)."""
    path = node_modules() / ".bin" / name
    if not path.exists():
        raise ToolchainError(f"{path} not found: run `npm ci` (or set ZKSOLV_NODE_MODULES)")
    return path


def available(name: str = "snarkjs") -> bool:
    """Whether Node and the npm package `name` are installed (no error: for choosing a path)."""
    return shutil.which("node") is not None and (node_modules() / name).is_dir()


def clean(text: str) -> str:
    """Drop ANSI colour codes (circom colours its output)."""
    return re.sub(r"\x1b\[[0-9;]*m", "", text).strip()


def run(
    cmd: list[str],
    *,
    what: str,
    cwd: Path | None = None,
    check: bool = True,
    error: type[ToolchainError] = ToolchainError,
    stdin: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run a tool, capturing its output. With `check`, a non-zero exit raises `error` (a
    ToolchainError) with the tool's cleaned output; without it the caller judges the result.
    The scripts in zksolv/js find their packages through ZKSOLV_NODE_MODULES, always set.
    `stdin` is the tool's whole input (a secret goes there, never into `cmd`, which any local
    user can read in /proc); without it the tool inherits this process's stdin."""
    try:
        proc = subprocess.run(
            cmd,
            cwd=cwd,
            capture_output=True,
            text=True,
            input=stdin,
            env={**os.environ, "ZKSOLV_NODE_MODULES": str(node_modules())},
        )
    except OSError as exc:
        raise error(f"cannot run {what}: {exc.strerror or exc}") from None
    if check and proc.returncode != 0:
        raise error(f"{what} failed (exit {proc.returncode}):\n{clean(proc.stdout + proc.stderr)}")
    return proc


def run_node(
    args: list[str],
    *,
    what: str,
    cwd: Path | None = None,
    check: bool = True,
    error: type[ToolchainError] = ToolchainError,
    stdin: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """`node ARGS…` through `run`: a script (zksolv/js, circom2's cli.js, snarkjs's cli.cjs) and its arguments."""
    return run([node(), *args], what=what, cwd=cwd, check=check, error=error, stdin=stdin)
