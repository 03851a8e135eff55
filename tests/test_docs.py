"""The documentation: docs/ builds with MkDocs in strict mode, a broken link, anchor or figure
fails that build, and the README's links and make targets are real."""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from pytest import param

from conftest import ROOT

README = ROOT / "README.md"


def mkdocs_build(project: Path, site: Path) -> tuple[int, str]:
    """``mkdocs build --strict`` of the project at ``project``: its exit status and output."""
    if shutil.which("mkdocs", path=str(Path(sys.executable).parent)) is None:
        pytest.skip("MkDocs is not installed (the docs extra: make docs installs it)")
    completed = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return completed.returncode, completed.stdout + completed.stderr


def test_the_docs_build_strictly(tmp_path):
    status, output = mkdocs_build(ROOT, tmp_path / "site")
    assert status == 0, output
    assert (tmp_path / "site" / "plots" / "convergence.png").is_file()  # the hook's figures


def docs_copy(tmp_path: Path) -> Path:
    """What the docs build reads, copied: mkdocs.yml, docs/, the hook and the figures."""
    copy = tmp_path / "project"
    shutil.copytree(ROOT / "docs", copy / "docs")
    (copy / "scripts").mkdir()
    shutil.copy2(ROOT / "scripts" / "docs_hooks.py", copy / "scripts")
    (copy / "plots").mkdir()
    for figure in (ROOT / "plots").glob("*.png"):
        shutil.copy2(figure, copy / "plots")
    shutil.copy2(ROOT / "mkdocs.yml", copy)
    return copy


@pytest.mark.parametrize(
    ("link", "complaint"),
    [
        param(
            "[a page](no-such-page.md)",
            "'no-such-page.md', but the target is not found",
            id="missing-page",
        ),
        param(
            "[a heading](sweeps.md#no-such-heading)",
            "does not contain an anchor '#no-such-heading'",
            id="missing-anchor",
        ),
        param(
            "[here](#no-such-heading)",
            "'#no-such-heading', but there is no such anchor on this page",
            id="missing-anchor-same-page",
        ),
        param(
            "![a figure](plots/no-such-figure.png)",
            "'plots/no-such-figure.png', but the target",
            id="missing-figure",
        ),
    ],
)
def test_a_broken_link_fails_the_build(tmp_path, link, complaint):
    copy = docs_copy(tmp_path)
    page = copy / "docs" / "index.md"
    page.write_text(page.read_text() + f"\nSee {link}.\n")
    status, output = mkdocs_build(copy, tmp_path / "site")
    assert status != 0
    assert complaint in output


def test_every_relative_link_of_the_readme_resolves():
    links = re.findall(r"\]\(([^)\s]+)\)", README.read_text())
    assert links
    relative = [link for link in links if "://" not in link]
    missing = [link for link in relative if not (ROOT / link.split("#")[0]).exists()]
    assert not missing


def documented_targets() -> set[str]:
    return set(re.findall(r"^([a-z-]+):.*## ", (ROOT / "Makefile").read_text(), re.MULTILINE))


@pytest.mark.parametrize(
    "document",
    ["README.md", *sorted(str(page.relative_to(ROOT)) for page in (ROOT / "docs").glob("*.md"))],
)
def test_every_make_target_named_exists(document):
    # in code: `make docs`, or a line of a shell block starting with make
    text = (ROOT / document).read_text()
    named = set(re.findall(r"(?:`|^)make ([a-z][a-z-]*)", text, re.MULTILINE))
    assert named - documented_targets() == set()


def test_a_page_missing_from_the_nav_fails_the_build(tmp_path):
    copy = docs_copy(tmp_path)
    (copy / "docs" / "unlisted.md").write_text("# Unlisted\n")
    status, output = mkdocs_build(copy, tmp_path / "site")
    assert status != 0
    assert 'not included in the "nav" configuration' in output
