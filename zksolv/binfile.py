"""One reader for the iden3 binary container of circom's .r1cs and .wtns and snarkjs's .zkey and .ptau files.

Each such file is ``magic (4 bytes), u32 version, u32 number of sections``, then per section
``u32 type, u64 size, payload``, all little-endian (``@iden3/binfileutils``). Sections are found
through this table, never at fixed offsets, as snarkjs finds them, so a file reads the same whatever
the order of its sections. Having one reader means every framing check (magic, truncation, a section
running past the end, a missing or repeated section) is made once and reported the same way: as a
:class:`BinFileError` naming the file, which is unusable input (exit 2) like every ZksolvError.

Two ways in, one table: :func:`parse` for bytes already in memory (a whole constraint system or
witness is decoded anyway), :func:`scan` for files too big to load (a ptau or zkey can be GBs): it
reads only the 12-byte section headers, seeking past the payloads, and :meth:`BinFile.read` then reads
just the part of a section the caller needs. Payload layouts belong to the modules of each format;
this module knows only the container and the one encoding all of them share, field elements as
n8-byte little-endian integers.

The reader imports nothing but zksolv.errors: it is shared by the prover side (circuit, provers, ptau)
and zksolv.r1cs.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from .errors import ZksolvError

__all__ = ["BinFile", "BinFileError", "Section", "parse", "scan"]

_FILE_HEADER = struct.Struct("<4sII")
_SECTION_HEADER = struct.Struct("<IQ")


class BinFileError(ZksolvError):
    """A file is not a well-formed iden3 binary file of the expected kind. ``file`` names it when
    known; the message then starts with it. Formats subclass it (R1CSFormatError, PtauError) so that
    their callers can catch their own kind."""

    def __init__(self, message: str, *, file: str | None = None, hint: str | None = None):
        self.file = file
        super().__init__(f"{file}: {message}" if file else message, hint=hint)


@dataclass(frozen=True)
class Section:
    """One entry of the section table: the payload of section type ``kind`` is bytes ``start .. start + size``."""

    kind: int
    start: int
    size: int


@dataclass(frozen=True)
class BinFile:
    """A file's version and section table (in file order), and reads of its payloads, whose
    failures raise the caller's error class with the file's name."""

    file: str | None
    version: int
    sections: tuple[Section, ...]
    _read_at: Callable[[int, int], bytes] = field(repr=False)
    _error: type[BinFileError] = field(repr=False)

    def error(self, message: str) -> BinFileError:
        """The error to raise for a problem the caller finds in a payload (same class, same file)."""
        return self._error(message, file=self.file)

    def all(self, kind: int) -> list[Section]:
        """Every section of type ``kind``, in file order (the container allows repeats)."""
        return [s for s in self.sections if s.kind == kind]

    def one(self, kind: int) -> Section:
        """The section of type ``kind``, which must occur exactly once (as snarkjs's readUniqueSection
        requires: two copies of a header could be read differently by two tools)."""
        found = self.all(kind)
        if not found:
            raise self.error(f"missing section {kind}")
        if len(found) > 1:
            raise self.error(f"duplicate section {kind} ({len(found)} copies)")
        return found[0]

    def read(self, section: Section, offset: int = 0, size: int | None = None) -> bytes:
        """Bytes ``offset .. offset + size`` of a section's payload (to its end by default). Offsets
        come from lengths stored in the file, so one past the payload is a malformed file."""
        size = section.size - offset if size is None else size
        if offset < 0 or size < 0 or offset + size > section.size:
            raise self.error(f"section {section.kind} is too short: {section.size} bytes, needs {offset + size}")
        return self._read_at(section.start + offset, size)

    def unpack(self, section: Section, fmt: str, offset: int = 0) -> tuple[int, ...]:
        """The little-endian integers ``fmt`` (struct codes, e.g. ``"IIQ"``) at ``offset`` of a section."""
        layout = struct.Struct("<" + fmt)
        return layout.unpack(self.read(section, offset, layout.size))

    def elements(self, section: Section, n8: int, count: int, offset: int = 0) -> list[int]:
        """``count`` field elements (n8-byte little-endian integers) from byte ``offset`` of a section."""
        raw = self.read(section, offset, n8 * count)
        return [int.from_bytes(raw[i : i + n8], "little") for i in range(0, len(raw), n8)]


def _table(
    read_at: Callable[[int, int], bytes], length: int, magic: bytes, file: str | None, error: type[BinFileError]
) -> tuple[int, tuple[Section, ...]]:
    """Version and section table, every entry checked against the file's length."""
    if length == 0:
        # What `snarkjs groth16 setup` leaves behind when the circuit does not fit the ptau.
        raise error("empty file", file=file)
    head = read_at(0, _FILE_HEADER.size)
    if head[:4] != magic:
        raise error(f"not a .{magic.decode()} file (magic {head[:4]!r}, expected {magic!r})", file=file)
    if length < _FILE_HEADER.size:
        raise error(f"truncated header ({length} bytes, needs {_FILE_HEADER.size})", file=file)
    _, version, n_sections = _FILE_HEADER.unpack(head)
    pos, sections = _FILE_HEADER.size, []
    for index in range(n_sections):
        # Bounded by the file, not by n_sections, which a corrupt file can set to 2^32 - 1.
        if pos + _SECTION_HEADER.size > length:
            raise error(f"truncated section table: section {index + 1} of {n_sections} has no header", file=file)
        kind, size = _SECTION_HEADER.unpack(read_at(pos, _SECTION_HEADER.size))
        start = pos + _SECTION_HEADER.size
        if start + size > length:
            raise error(
                f"section {kind} runs past the end of the file ({size} bytes at offset {start}, the file has {length})",
                file=file,
            )
        sections.append(Section(kind, start, size))
        pos = start + size
    return version, tuple(sections)


def parse(data: bytes, magic: bytes, *, file: str | None = None, error: type[BinFileError] = BinFileError) -> BinFile:
    """The table of a file held in memory (``file`` names it in errors)."""

    def read_at(pos: int, size: int) -> bytes:
        return data[pos : pos + size]

    return BinFile(file, *_table(read_at, len(data), magic, file, error), read_at, error)


def scan(path: Path | str, magic: bytes, *, error: type[BinFileError] = BinFileError) -> BinFile:
    """The table of a file on disk, read by seeking: only the section headers, never the payloads.

    Later reads reopen the file, so no handle stays open between them; a file that cannot be
    opened or read is reported as ``error`` too (it is unusable input all the same)."""
    name = str(path)

    def read_at(pos: int, size: int) -> bytes:
        try:
            with open(path, "rb") as handle:
                handle.seek(pos)
                raw = handle.read(size)
        except OSError as exc:
            raise error(f"cannot read: {exc.strerror or exc}", file=name) from None
        if len(raw) != size:
            raise error("file shrank while it was being read", file=name)
        return raw

    try:
        with open(path, "rb") as handle:
            length = handle.seek(0, os.SEEK_END)

            def read_header(pos: int, size: int) -> bytes:
                handle.seek(pos)
                return handle.read(size)

            version, sections = _table(read_header, length, magic, name, error)
    except OSError as exc:
        raise error(f"cannot read: {exc.strerror or exc}", file=name) from None
    return BinFile(name, version, sections, read_at, error)
