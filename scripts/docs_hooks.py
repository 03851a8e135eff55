"""MkDocs hook (mkdocs.yml ``hooks``): the pages show the example's committed figures.

The figures live in ``plots/``, outside ``docs/``; this serves every ``plots/*.png`` at
``plots/`` in the site, so a page writes ``![...](plots/convergence.png)`` and shows the very
file ``make figures`` wrote, not a copy that could go stale. MkDocs checks such links like any
other: a figure that is not there fails the strict build.
"""

from pathlib import Path

from mkdocs.structure.files import File, Files

ROOT = Path(__file__).resolve().parents[1]


def on_files(files: Files, config) -> Files:
    for figure in sorted((ROOT / "plots").glob("*.png")):
        files.append(
            File(
                f"plots/{figure.name}",
                src_dir=str(ROOT),
                dest_dir=config["site_dir"],
                use_directory_urls=config["use_directory_urls"],
            )
        )
    return files
