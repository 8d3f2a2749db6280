"""The documentation: a short README whose links resolve, and a reference under docs/ that builds strictly.

The build is MkDocs' own with ``strict: true`` and the validation settings of
``mkdocs.yml``: a warning (a broken link, a missing anchor, a page left out of
the nav) fails it, so the tests here check that such a page does fail.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPOSITORY = Path(__file__).resolve().parent.parent
README = REPOSITORY / "README.md"
MAX_README_LINES = 300
QUICK_START_LINES = 60  # the quick start's commands are read before anything else
# The README's quick start, as .ci/run runs it: a study end to end, then the tests.
QUICK_START = (
    "pip install -r requirements.txt && ./run_timing_study.sh --type local --workers 2 --runs 3 "
    "--output-dir quickstart_results --plot",
    "pip install -r requirements-test.txt && python3 -m pytest",
)

FENCED_BLOCK = re.compile(r"^```.*?^```", re.MULTILINE | re.DOTALL)
CODE_SPAN = re.compile(r"`[^`\n]*`")
INLINE_LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
LINK_DEFINITION = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)", re.MULTILINE)
SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")
HEADING = re.compile(r"^#{1,6}\s+(.*?)\s*#*\s*$", re.MULTILINE)


def link_targets(markdown: str) -> list[str]:
    """Every link and image target of a Markdown text, leaving out code, where brackets are not links."""
    prose = CODE_SPAN.sub("", FENCED_BLOCK.sub("", markdown))
    return INLINE_LINK.findall(prose) + LINK_DEFINITION.findall(prose)


def heading_anchor(heading: str) -> str:
    """A heading's anchor as GitHub and MkDocs both make it for plain headings: lower case, words and hyphens."""
    text = CODE_SPAN.sub(lambda span: span.group()[1:-1], heading).lower()
    return re.sub(r"\s+", "-", re.sub(r"[^\w\s-]", "", text).strip())


def broken_links(markdown_file: Path) -> list[str]:
    """The relative links of ``markdown_file`` that name no existing file, or no heading of a Markdown file."""
    broken = []
    for target in link_targets(markdown_file.read_text(encoding="utf-8")):
        if SCHEME.match(target) or target.startswith("#"):
            continue  # a web address, or a place in the file itself
        path, _, anchor = target.partition("#")
        linked = markdown_file.parent / path
        if not linked.exists():
            broken.append(target)
        elif anchor and linked.suffix == ".md":
            headings = HEADING.findall(FENCED_BLOCK.sub("", linked.read_text(encoding="utf-8")))
            if anchor not in map(heading_anchor, headings):
                broken.append(target)
    return broken


def build_docs(project: Path, site: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--config-file", str(project / "mkdocs.yml"),
         "--site-dir", str(site)],
        cwd=project, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL,
    )


def test_the_readme_is_a_front_door_with_the_quick_start_first():
    lines = README.read_text(encoding="utf-8").splitlines()
    assert len(lines) <= MAX_README_LINES
    first = lines[:QUICK_START_LINES]
    for command in QUICK_START:
        assert command in first, f"the quick start's {command!r} is not a line of the README's first lines"
    assert first.index(QUICK_START[0]) < first.index(QUICK_START[1])
    ci = (REPOSITORY / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    for command in QUICK_START:  # CI runs the quick start word for word
        assert command in ci


def test_every_relative_link_of_the_readme_resolves():
    assert link_targets(README.read_text(encoding="utf-8")), "the README links into docs/"
    assert broken_links(README) == []


def test_a_broken_link_of_a_readme_is_found(tmp_path):
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "here.md").write_text("# Here\n\n## Exit codes\n", encoding="utf-8")
    readme = tmp_path / "README.md"
    readme.write_text(
        "[here](docs/here.md) [there](docs/here.md#exit-codes) [web](https://dask.org) [top](#top)\n"
        "[gone](docs/gone.md) [no heading](docs/here.md#no-such-heading) ![figure](docs/figure.png)\n"
        "[defined]: docs/undefined.md\n"
        "`[in code](docs/code.md)`\n```\n[fenced](docs/fenced.md)\n```\n",
        encoding="utf-8",
    )
    assert broken_links(readme) == ["docs/gone.md", "docs/here.md#no-such-heading", "docs/figure.png",
                                    "docs/undefined.md"]


@pytest.mark.timeout(150)
def test_the_docs_build_strictly_without_a_warning(tmp_path):
    site = tmp_path / "site"
    completed = build_docs(REPOSITORY, site)
    assert completed.returncode == 0, completed.stderr
    assert "WARNING" not in completed.stderr + completed.stdout
    assert (site / "index.html").is_file() and (site / "commands" / "analyze.html").is_file()


BREAKAGES = {
    "a link to a missing page": ("index.md", "\n[gone](gone.md)\n", "gone.md"),
    "a link to a missing anchor": ("index.md", "\n[schema](results.md#no-such-heading)\n", "no-such-heading"),
    "a page left out of the nav": ("left-out.md", "# Left out\n", "left-out.md"),
}


@pytest.mark.timeout(150)
@pytest.mark.parametrize("breakage", BREAKAGES)
def test_a_broken_page_fails_the_docs_build(tmp_path, breakage):
    page, text, named = BREAKAGES[breakage]
    project = tmp_path / "project"
    shutil.copytree(REPOSITORY / "docs", project / "docs")
    shutil.copy(REPOSITORY / "mkdocs.yml", project / "mkdocs.yml")
    with open(project / "docs" / page, "a", encoding="utf-8") as stream:
        stream.write(text)
    completed = build_docs(project, tmp_path / "site")
    assert completed.returncode != 0
    assert named in completed.stderr
