"""A settings file that puts its keys under its group's name (empty, comment-only, or without
``# @package _global_``) is refused saying what to write at its top."""

import shutil

import pytest

from conftest import QUADRATIC, run_task

TASK = QUADRATIC / "task.py"


@pytest.mark.parametrize(
    "text",
    ["", "# to be written\n", "steps: ${budget}\n"],
    ids=["empty", "comment-only", "no-package-header"],
)
def test_a_settings_file_without_global_package_is_named_with_the_header_to_add(tmp_path, text):
    tree = tmp_path / "experiment"
    shutil.copytree(QUADRATIC / "experiment", tree)
    (tree / "settings" / "draft.yaml").write_text(text)
    refused = run_task(
        "-cp",
        str(tree),
        "settings=draft",
        "budget=1",
        "-m",
        workdir=tmp_path,
        script=TASK,
        check=False,
    )
    assert refused.returncode != 0
    assert "top-level key 'settings' is not a task key" in refused.output
    assert "start it with '# @package _global_'" in refused.output
    assert "settings/draft.yaml" in refused.output
