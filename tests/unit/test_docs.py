"""The repository stands alone: the code cites only its own docs, and every citation resolves.

Code cites a page and a section by name (`docs/security.md, Secret files`); a section that is
renamed or removed, or a page that does not exist, would leave readers with a dead end. Documents
outside the repository (a design document, a style guide, issue numbers) are not cited at all.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
SCANNED = ("reconciler", "tests", "benchmarks")

# Built from pieces so that this file does not match itself.
OUTSIDE = re.compile(
    "|".join(
        [
            r"\bdesign" + r"\.md\b",
            r"\bstyle" + r"\.md\b",
            r"shared/" + r"reference",
            r"\breference " + "§",
            r"\b[Ii]ssue #?" + r"[0-9]+",
        ]
    )
)
CITATION = re.compile(r"docs/([a-z-]+\.md)(?:,\s+([A-Z][^().;:,\"`]*[^().;:,\"`\s]))?")


def _texts() -> list[tuple[Path, str]]:
    found = [(ROOT / "README.md", (ROOT / "README.md").read_text(encoding="utf-8"))]
    found.append((ROOT / "pyproject.toml", (ROOT / "pyproject.toml").read_text(encoding="utf-8")))
    for folder in SCANNED:
        for path in sorted((ROOT / folder).rglob("*")):
            if path.suffix in {".py", ".yaml", ".yml", ".md", ".toml"} and path.is_file():
                found.append((path, path.read_text(encoding="utf-8", errors="replace")))
    return found


def _flattened(text: str) -> str:
    """Text with comment markers and line breaks folded away, so wrapped citations read whole."""
    text = re.sub(r"\n[ \t]*#+ ?", " ", text)
    return re.sub(r"\s+", " ", text)


def _headings(page: Path) -> list[str]:
    return [
        m.group(1).strip()
        for m in re.finditer(r"^#{2,4} (.+)$", page.read_text(encoding="utf-8"), re.MULTILINE)
    ]


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading."""
    return re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")


def test_nothing_cites_documents_outside_the_repository() -> None:
    offenders = [
        f"{path.relative_to(ROOT)}: {match.group(0)}"
        for path, text in _texts()
        if path != Path(__file__).resolve()
        for match in OUTSIDE.finditer(_flattened(text))
    ]
    assert offenders == []


def test_every_cited_page_and_section_exists() -> None:
    cited = 0
    problems = []
    for path, text in _texts():
        for match in CITATION.finditer(_flattened(text)):
            cited += 1
            page, section = DOCS / match.group(1), match.group(2)
            where = f"{path.relative_to(ROOT)}: {match.group(0)}"
            if not page.is_file():
                problems.append(f"{where}: no such page")
            elif section and not any(h.startswith(section) for h in _headings(page)):
                problems.append(f"{where}: no section {section!r}")
    assert problems == []
    assert cited > 10  # the scan really finds the code's citations


@pytest.mark.parametrize("page", sorted(DOCS.glob("*.md")), ids=lambda p: p.name)
def test_the_contents_of_each_page_link_to_its_sections(page: Path) -> None:
    text = page.read_text(encoding="utf-8")
    anchors = {_slug(h) for h in _headings(page)}
    links = re.findall(r"\]\(#([^)]+)\)", text)
    assert links, "each page starts with a list of its sections"
    assert [link for link in links if link not in anchors] == []


def test_the_three_design_documents_exist() -> None:
    assert {p.name for p in DOCS.glob("*.md")} >= {
        "architecture.md",
        "ollama-api.md",
        "security.md",
    }
