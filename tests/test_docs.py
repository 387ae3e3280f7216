"""The documents point only at files that are in the repository.

Every relative Markdown link (`[text](path)`, `[text](path#anchor)`) in the
repository's Markdown files must name an existing file or folder, and an anchor
into a Markdown file must be one of its headings (GitHub's slugs). Every path
mentioned in backticks or plain text — `docs/…`, `*.md`, or under one of the
repository's top-level folders — must exist as well. Source comments and
docstrings (Python, circom, Solidity, C, JS) are held to the same rule for
`docs/…` and `*.md` mentions. Nothing may point outside the tree (`../shared/…`,
research notes): a reader of a clone has only the clone.
"""

from __future__ import annotations

import re
import unicodedata
from functools import cache
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SKIP_DIRS = {".git", ".venv", "node_modules", "build", "demo-out", ".pytest_cache", ".hypothesis", "__pycache__"}
SOURCE_SUFFIXES = {".py", ".circom", ".sol", ".c", ".js", ".toml"}


def _files(suffixes: set[str]) -> list[Path]:
    out = []
    for path in sorted(REPO.rglob("*")):
        rel = path.relative_to(REPO)
        if any(part in SKIP_DIRS or part.endswith(".egg-info") for part in rel.parts):
            continue
        if rel.parts[:2] in {("tests", "fixtures"), ("proofs", "example")}:
            continue  # data, not documentation
        if path.is_file() and path.suffix in suffixes:
            out.append(path)
    return out


MARKDOWN = _files({".md"})
SOURCES = [p for p in _files(SOURCE_SUFFIXES) if p != Path(__file__).resolve()]
TOP_DIRS = sorted(
    p.name for p in REPO.iterdir() if p.is_dir() and p.name not in SKIP_DIRS and not p.name.startswith(".")
)

LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)|!\[[^\]]*\]\(([^)\s]+)\)")
CODE_BLOCK = re.compile(r"^(```|~~~).*?^\1", re.M | re.S)
# A path-like word: `../…`, anything under docs/, a *.md name, or a file (name.ext) or folder (trailing /)
# under a top-level folder — `zksolv/salt/v1` is a hash tag, `accounts/proofs/s` a unit, not paths.
TOP_DIR_ALTERNATIVES = "|".join(map(re.escape, TOP_DIRS))
PATHLIKE = re.compile(
    rf"(?<![\w./-])((?:\.\./)+[\w.-][\w./-]*|docs/[\w./-]*|(?:{TOP_DIR_ALTERNATIVES})/(?:[\w.-]+/)*(?:[\w-]+(?:\.\w+)+)?"
    r"|[\w./-]*[\w-]\.md)(?:#[\w-]*)?(?![\w/-])"
)
DOC_MENTION = re.compile(r"(?<![\w./-])(docs/[\w./-]+|[\w./-]*[\w-]\.md)\b")
OUTSIDE = re.compile(r"\.\./shared\b|\bshared/research\b|\bresearch notes?\b|\.\./DESIGN\b|\bDESIGN(?:\.md)?\s*§", re.I)


def _rel(path: Path) -> str:
    return str(path.relative_to(REPO))


def _candidates(base: Path, target: str) -> list[Path]:
    """Where a mention may point: next to the file, from the repo root, or into docs/ (bare `X.md`)."""
    out = [base / target, REPO / target]
    if "/" not in target:
        out.append(REPO / "docs" / target)
    return out


def _inside(path: Path) -> bool:
    try:
        path.resolve().relative_to(REPO)
    except ValueError:
        return False
    return True


def _resolves(base: Path, target: str) -> bool:
    target = target.rstrip(".,;:")
    return any(_inside(p) and p.exists() for p in _candidates(base, target))


def _slug(heading: str) -> str:
    text = re.sub(r"`|\*\*?|_(?=\w)|(?<=\w)_", "", heading.strip()).lower()
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)
    kept = "".join(ch for ch in text if ch in " -_" or unicodedata.category(ch)[0] in "LN")
    return kept.replace(" ", "-")


@cache
def _anchors(path: Path) -> frozenset[str]:
    seen: dict[str, int] = {}
    out = set()
    for line in CODE_BLOCK.sub("", path.read_text()).splitlines():
        match = re.match(r"#{1,6}\s+(.*?)\s*#*\s*$", line)
        if not match:
            continue
        slug = _slug(match.group(1))
        n = seen.get(slug, 0)
        seen[slug] = n + 1
        out.add(slug if n == 0 else f"{slug}-{n}")
    return frozenset(out)


def _prose(path: Path) -> list[tuple[int, str]]:
    """The lines of a Markdown file outside fenced code blocks, numbered."""
    text = path.read_text()
    blocks = [(m.start(), m.end()) for m in CODE_BLOCK.finditer(text)]
    out, offset = [], 0
    for number, line in enumerate(text.splitlines(keepends=True), 1):
        if not any(start <= offset < end for start, end in blocks):
            out.append((number, line))
        offset += len(line)
    return out


def test_there_are_documents() -> None:
    names = {_rel(p) for p in MARKDOWN}
    assert {"README.md", "docs/PROTOCOL.md", "docs/SECURITY.md"} <= names
    assert "docs" in TOP_DIRS and "zksolv" in TOP_DIRS


@pytest.mark.parametrize("doc", MARKDOWN, ids=_rel)
def test_markdown_links_resolve(doc: Path) -> None:
    broken = []
    for number, line in _prose(doc):
        for match in LINK.finditer(line):
            target = match.group(1) or match.group(2)
            if re.match(r"[a-z][a-z0-9+.-]*:", target, re.I):  # http:, https:, mailto:
                continue
            path_part, _, anchor = target.partition("#")
            dest = (doc.parent / path_part) if path_part else doc
            if not (_inside(dest) and dest.exists()):
                broken.append(f"{_rel(doc)}:{number}: link to missing {target!r}")
            elif anchor and dest.suffix == ".md" and anchor not in _anchors(dest.resolve()):
                broken.append(f"{_rel(doc)}:{number}: no heading #{anchor} in {_rel(dest.resolve())}")
    assert not broken, "\n".join(broken)


@pytest.mark.parametrize("doc", MARKDOWN, ids=_rel)
def test_mentioned_paths_exist(doc: Path) -> None:
    broken = []
    for number, line in _prose(doc):
        prose = LINK.sub("", line)  # links are checked above
        for match in PATHLIKE.finditer(prose):
            target = match.group(1)
            if any(ch in target for ch in "<>*{}"):
                continue
            if not _resolves(doc.parent, target):
                broken.append(f"{_rel(doc)}:{number}: {target!r} is not in the repository")
    assert not broken, "\n".join(broken)


def test_source_comments_name_existing_documents() -> None:
    broken = []
    for source in SOURCES:
        for number, line in enumerate(source.read_text(errors="replace").splitlines(), 1):
            for match in DOC_MENTION.finditer(line):
                if not _resolves(source.parent, match.group(1)):
                    broken.append(f"{_rel(source)}:{number}: {match.group(1)!r} is not in the repository")
    assert not broken, "\n".join(broken)


def test_nothing_points_outside_the_repository() -> None:
    hits = [
        f"{_rel(path)}:{n}: {line.strip()[:120]}"
        for path in MARKDOWN + SOURCES
        for n, line in enumerate(path.read_text(errors="replace").splitlines(), 1)
        if OUTSIDE.search(line)
    ]
    assert not hits, "\n".join(hits)
