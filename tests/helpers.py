"""Helpers shared by the tests: repo paths, Node oracles, small file writers."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
NODE_MODULES = REPO / "node_modules"


def node_available() -> bool:
    return shutil.which("node") is not None and (NODE_MODULES / "circomlibjs").is_dir()


def run_node_json(script: str, payload) -> object:
    """Run a tests/js oracle script with JSON on stdin, return its JSON output."""
    result = subprocess.run(
        ["node", str(REPO / "tests" / "js" / script)],
        input=json.dumps(payload),
        capture_output=True,
        text=True,
        cwd=REPO,
        check=False,
        timeout=300,
    )
    if result.returncode != 0:
        raise RuntimeError(f"{script} failed: {result.stderr}")
    return json.loads(result.stdout)


def write_csv(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    path.write_text("\n".join(",".join(r) for r in [header, *rows]) + "\n")
    return path


CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")


def chromium_driver(width: int = 1280, height: int = 1600):
    """Start headless Chromium through selenium with Debian's driver (no Selenium Manager download)."""
    import tempfile

    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        raise RuntimeError("Debian chromium + chromium-driver are not installed: run `make browser`")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--allow-file-access-from-files",
        f"--window-size={width},{height}",
        f"--user-data-dir={tempfile.mkdtemp(prefix='zksolv-chromium-')}",
    ):
        options.add_argument(flag)
    return webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
