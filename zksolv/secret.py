"""The venue's secret seed: the root of every salt, padding key and blinding.

Whoever holds it can link keys to account ids, so it is written owner-only and
never printed; whoever loses it cannot reproduce a commitment.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path

from .errors import InputError, Problem

HEADER = "zksolv-secret-v1:"
SEED_BYTES = 32


def generate_secret(path: Path | str) -> Path:
    """Write a new random seed with mode 0600; refuse to overwrite an existing file."""
    path = Path(path)
    text = f"{HEADER}{secrets.token_hex(SEED_BYTES)}\n"
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise InputError([Problem(str(path), "already exists; refusing to overwrite a secret")]) from None
    except OSError as exc:
        raise InputError([Problem(str(path), f"cannot create: {exc.strerror or exc}")]) from None
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    return path


def load_secret(path: Path | str) -> bytes:
    path = Path(path)
    try:
        text = path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError([Problem(str(path), f"cannot read secret: {getattr(exc, 'strerror', None) or exc}")]) from None
    if not text.startswith(HEADER):
        raise InputError([Problem(str(path), "not a zksolv secret (create one with `zksolv keygen-secret FILE`)")])
    try:
        seed = bytes.fromhex(text[len(HEADER) :])
    except ValueError:
        raise InputError([Problem(str(path), "secret is not hex")]) from None
    if len(seed) != SEED_BYTES:
        raise InputError([Problem(str(path), f"secret must be {SEED_BYTES} bytes")])
    return seed


def derive_field(seed: bytes, tag: bytes, *parts: bytes) -> int:
    """HMAC-SHA256(seed, tag ‖ 0x00 ‖ parts…) reduced to 248 bits, so it is below the field modulus."""
    mac = hmac.new(seed, tag + b"\x00" + b"".join(parts), hashlib.sha256).digest()
    return int.from_bytes(mac, "big") >> 8
