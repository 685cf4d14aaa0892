"""docs/DESIGN.md is the contract code comments point to: every section they cite exists, and
the Python code cites sections, not the document as a whole."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DESIGN = ROOT / "docs" / "DESIGN.md"
CITATION = re.compile(r"DESIGN\.md,? §(\d+(?:\.\d+)?)(?:-§(\d+(?:\.\d+)?))?")


def sections() -> set[str]:
    found = set()
    for line in DESIGN.read_text(encoding="utf-8").splitlines():
        if m := re.match(r"#{2,3} (\d+(?:\.\d+)?)\.? ", line):
            found.add(m.group(1))
    return found


def joined(path: Path) -> str:
    """The file's text with line breaks (and the comment markers after them) made spaces, so a
    citation wrapped across lines reads as one."""
    return re.sub(r"[ \t]*\n[ \t]*(?:#:?|//[!/]?)?[ \t]*", " ", path.read_text(encoding="utf-8"))


def sources():
    for folder, pattern in (("python", "*.py"), ("tests", "*.py"), ("bench", "*.py"), ("rust", "*.rs")):
        yield from sorted((ROOT / folder).rglob(pattern))


def test_the_design_document_has_numbered_sections():
    assert {"2.4", "3.1", "3.3", "3.4", "3.5", "4.5", "4.6", "4.10", "5.2", "5.3", "6.1"} <= sections()


def test_every_cited_section_exists():
    known = sections()
    missing = [
        f"{path.relative_to(ROOT)}: §{s}"
        for path in sources()
        for m in CITATION.finditer(joined(path))
        for s in m.groups()
        if s and s not in known
    ]
    assert missing == []


def test_python_code_cites_sections_not_the_whole_document():
    bare = []
    for path in sorted((ROOT / "python").rglob("*.py")):
        text = joined(path)
        for m in re.finditer(r"DESIGN\.md", text):
            if not CITATION.match(text, m.start()):
                bare.append(f"{path.relative_to(ROOT)}: ...{text[max(0, m.start() - 40):m.end() + 20]}...")
    assert bare == [], "cite a section: docs/DESIGN.md §N.M"


def test_the_citation_reader_sees_wrapped_and_bare_citations(tmp_path):
    """The checks above can fail: a wrapped citation is read whole, a bare one is caught."""
    wrapped = tmp_path / "a.py"
    wrapped.write_text("x = 1  # see docs/DESIGN.md\n#: §9.9 for why\n")
    assert [m.group(1) for m in CITATION.finditer(joined(wrapped))] == ["9.9"]
    assert "9.9" not in sections()
    bare = tmp_path / "b.py"
    bare.write_text('"""As DESIGN.md says."""\n')
    assert not CITATION.search(joined(bare))
