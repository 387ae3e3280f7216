"""zksolv.binfile, the one reader of the iden3 section table (.r1cs, .wtns, .zkey, .ptau).

Every framing check is run through both ways in, `parse` (bytes) and `scan` (a file read by
seeking), which must agree on the table and on the error, message included. Real files come from
circom (tests/fixtures/tiny.circom and its witness); the formats' own readers (r1cs, wtns, the
arkworks prover's wtns access) are checked to report a damaged real file as their error class.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Callable
from pathlib import Path

import pytest

from zksolv import toolchain
from zksolv.binfile import BinFile, BinFileError, Section, parse, scan
from zksolv.circuit import CircuitError, compile_source, r1cs_info, read_wtns
from zksolv.errors import EXIT_INPUT, ZksolvError
from zksolv.provers import witness_wires
from zksolv.r1cs import R1CSFormatError, load_r1cs, read_header

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "tiny.circom"
P = 21888242871839275222246405745257275088548364400416034343698204186575808495617


def container(magic: bytes, sections: list[tuple[int, bytes]], version: int = 1) -> bytes:
    out = magic + struct.pack("<II", version, len(sections))
    for kind, payload in sections:
        out += struct.pack("<IQ", kind, len(payload)) + payload
    return out


#: A small file of every feature: two sections of one type, a header and an array of field elements.
ELEMENTS = [0, 1, P - 1, 2**200 + 7]
SYNTHETIC = container(
    b"test",
    [
        (1, struct.pack("<IQ", 32, 2**40)),
        (7, b"first"),
        (2, b"".join(x.to_bytes(32, "little") for x in ELEMENTS)),
        (7, b"second"),
    ],
    version=3,
)

Reader = Callable[[bytes], BinFile]


@pytest.fixture(params=["parse", "scan"])
def read(request, tmp_path) -> Reader:
    """Both ways in, each naming the file `<tmp>/file.test` in its errors."""
    path = tmp_path / "file.test"

    def reader(data: bytes) -> BinFile:
        path.write_bytes(data)
        if request.param == "parse":
            return parse(data, b"test", file=str(path))
        return scan(path, b"test")

    return reader


# --------------------------------------------------------------------------
# a well-formed file


def test_synthetic_file_is_read_in_file_order(read):
    f = read(SYNTHETIC)
    assert f.version == 3
    assert [(s.kind, s.size) for s in f.sections] == [(1, 12), (7, 5), (2, 128), (7, 6)]
    assert f.sections[0] == Section(1, 24, 12)
    assert [f.read(s) for s in f.all(7)] == [b"first", b"second"]
    header = f.one(1)
    assert f.unpack(header, "IQ") == (32, 2**40) and f.unpack(header, "Q", 4) == (2**40,)
    assert f.elements(f.one(2), 32, 4) == ELEMENTS
    assert f.elements(f.one(2), 32, 2, offset=64) == ELEMENTS[2:]
    assert f.read(f.one(2), 32, 3) == b"\x01\x00\x00"
    assert f.all(9) == []


def test_an_empty_table_and_an_empty_section_are_fine(read):
    assert read(container(b"test", [])).sections == ()
    f = read(container(b"test", [(4, b"")]))
    assert f.read(f.one(4)) == b"" and f.elements(f.one(4), 32, 0) == []


# --------------------------------------------------------------------------
# malformed files: the error, its class and its message, the same both ways in


def _error(read: Reader, data: bytes) -> BinFileError:
    with pytest.raises(BinFileError) as info:
        read(data)
    return info.value


def test_bad_magic(read, tmp_path):
    error = _error(read, b"zkey" + SYNTHETIC[4:])
    assert str(error) == f"{tmp_path / 'file.test'}: not a .test file (magic b'zkey', expected b'test')"
    assert error.file == str(tmp_path / "file.test")


def test_empty_file(read):
    # What `snarkjs groth16 setup` leaves when the circuit does not fit the ptau.
    assert str(_error(read, b"")).endswith("file.test: empty file")


def test_truncated_header(read):
    assert str(_error(read, SYNTHETIC[:9])).endswith("file.test: truncated header (9 bytes, needs 12)")


def test_truncated_section_table(read):
    message = str(_error(read, SYNTHETIC[: 12 + (12 + 12) + (12 + 5) + 6]))  # 6 bytes of the third
    assert message.endswith("file.test: truncated section table: section 3 of 4 has no header")


def test_section_count_beyond_the_file_stops_at_its_end(read):
    # n_sections = 2^32 - 1 must not loop 4 billion times.
    data = b"test" + struct.pack("<II", 1, 2**32 - 1) + struct.pack("<IQ", 1, 0)
    assert "section 2 of 4294967295 has no header" in str(_error(read, data))


def test_section_running_past_the_end(read):
    data = container(b"test", [(1, b"abcd"), (2, b"efgh")])[:-1]
    message = str(_error(read, data))
    assert message.endswith(
        "file.test: section 2 runs past the end of the file (4 bytes at offset 40, the file has 43)"
    )


def test_duplicate_and_missing_sections_when_the_caller_needs_one(read):
    f = read(SYNTHETIC)
    with pytest.raises(BinFileError, match=r"file\.test: duplicate section 7 \(2 copies\)$"):
        f.one(7)
    with pytest.raises(BinFileError, match=r"file\.test: missing section 5$"):
        f.one(5)


def test_reading_past_a_section(read):
    f = read(SYNTHETIC)
    with pytest.raises(BinFileError, match=r"file\.test: section 1 is too short: 12 bytes, needs 16$"):
        f.unpack(f.one(1), "II", 8)
    with pytest.raises(BinFileError, match="section 2 is too short: 128 bytes, needs 160"):
        f.elements(f.one(2), 32, 2, offset=96)


def test_the_callers_error_class_is_raised():
    with pytest.raises(R1CSFormatError, match="^x.r1cs: not a .r1cs file"):
        parse(SYNTHETIC, b"r1cs", file="x.r1cs", error=R1CSFormatError)
    f = parse(SYNTHETIC, b"test", error=R1CSFormatError)
    with pytest.raises(R1CSFormatError, match="^missing section 5$"):  # no file name given, none shown
        f.one(5)
    assert isinstance(f.error("x"), R1CSFormatError)


def test_an_unreadable_file_is_a_binfile_error(tmp_path):
    with pytest.raises(BinFileError, match=r"nothing\.test: cannot read: No such file or directory"):
        scan(tmp_path / "nothing.test", b"test")


def test_binfile_errors_are_input_errors():
    # The CLI prints a ZksolvError and exits with its code; any other exception is an "internal error".
    assert issubclass(BinFileError, ZksolvError) and BinFileError.exit_code == EXIT_INPUT
    assert issubclass(R1CSFormatError, BinFileError)


# --------------------------------------------------------------------------
# real files from circom


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> tuple[Path, Path]:
    """(r1cs, wtns) of tests/fixtures/tiny.circom for a=3, b=5, c=7, salt=11."""
    directory = compile_source(FIXTURE.read_text(), name="tiny", label="tiny")
    folder = tmp_path_factory.mktemp("tiny")
    (folder / "input.json").write_text(json.dumps({"a": "3", "b": "5", "c": "7", "salt": "11"}))
    wtns = folder / "tiny.wtns"
    toolchain.run_node(
        [
            str(directory / "tiny_js" / "generate_witness.js"),
            str(directory / "tiny_js" / "tiny.wasm"),
            str(folder / "input.json"),
            str(wtns),
        ],
        what="tiny witness",
    )
    return directory / "tiny.r1cs", wtns


@pytest.mark.node
def test_real_r1cs_and_wtns_read_the_same_both_ways(tiny):
    for path, magic in zip(tiny, (b"r1cs", b"wtns")):
        in_memory, on_disk = parse(path.read_bytes(), magic, file=str(path)), scan(path, magic)
        assert in_memory.sections == on_disk.sections and in_memory.version == on_disk.version
        last = on_disk.sections[-1]
        assert last.start + last.size == path.stat().st_size
    r1cs, wtns = tiny
    assert {s.kind for s in scan(r1cs, b"r1cs").sections} >= {1, 2, 3}
    assert scan(wtns, b"wtns").version == 2 and [s.kind for s in scan(wtns, b"wtns").sections] == [1, 2]


@pytest.mark.node
def test_real_files_decode(tiny):
    r1cs_path, wtns = tiny
    header = read_header(r1cs_path)
    r1cs = load_r1cs(r1cs_path)
    assert (header.n_pub_out, header.n_pub_in, header.n_prv_in, header.prime) == (2, 1, 3, P)
    assert header.n_constraints == len(r1cs.constraints) > 100 and header.n_wires == r1cs.n_wires
    values = read_wtns(wtns)
    assert len(values) == header.n_wires and values[0] == 1
    assert values[1] == (3 * 5 * 7) ** 2 and values[3] == 11  # outputs prod, h, then the public salt
    assert witness_wires(wtns, 1, 3) == values[1:4]


def _damaged(path: Path, tmp_path: Path, change: Callable[[bytearray], None]) -> Path:
    data = bytearray(path.read_bytes())
    change(data)
    out = tmp_path / f"damaged{path.suffix}"
    out.write_bytes(bytes(data))
    return out


@pytest.mark.node
def test_damaged_real_r1cs_is_an_r1cs_format_error(tiny, tmp_path):
    r1cs, _ = tiny
    f = scan(r1cs, b"r1cs")
    constraints = f.one(2)

    def grow_constraints(data: bytearray) -> None:  # its size now runs past the end
        struct.pack_into("<Q", data, constraints.start - 8, len(data))

    damaged = _damaged(r1cs, tmp_path, grow_constraints)
    for reader in (load_r1cs, read_header):
        with pytest.raises(R1CSFormatError, match=r"damaged\.r1cs: section 2 runs past the end of the file"):
            reader(damaged)
    with pytest.raises(CircuitError, match=r"not a valid r1cs file: .*damaged\.r1cs: section 2 runs past"):
        r1cs_info(damaged)


@pytest.mark.node
def test_duplicate_real_wtns_header_is_refused(tiny, tmp_path):
    _, wtns = tiny
    f = scan(wtns, b"wtns")
    header = f.one(1)
    data = wtns.read_bytes()
    copy = data[header.start - 12 : header.start + header.size]
    doubled = tmp_path / "doubled.wtns"
    # Two headers could be read differently by two tools: refuse the file.
    doubled.write_bytes(data[:8] + struct.pack("<I", len(f.sections) + 1) + data[12:] + copy)
    for reader in (read_wtns, lambda p: witness_wires(p, 1, 3)):
        with pytest.raises(BinFileError, match=r"doubled\.wtns: duplicate section 1 \(2 copies\)"):
            reader(doubled)


@pytest.mark.node
def test_short_real_wtns_body_is_refused(tiny, tmp_path):
    _, wtns = tiny
    f = scan(wtns, b"wtns")
    body = f.one(2)
    short = tmp_path / "short.wtns"
    data = bytearray(wtns.read_bytes())
    struct.pack_into("<Q", data, body.start - 8, body.size - 32)  # one wire fewer than the header says
    short.write_bytes(bytes(data[:-32]))
    with pytest.raises(BinFileError, match=rf"short\.wtns: witness section has {body.size - 32} bytes"):
        read_wtns(short)
    n_wires = body.size // 32
    with pytest.raises(BinFileError, match="short.wtns: section 2 is too short"):
        witness_wires(short, n_wires - 1, 1)
