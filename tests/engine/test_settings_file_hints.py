"""A settings file that puts its keys under its group's name (empty, comment-only, or without
``# @package _global_``) is refused saying what to write at its top."""

import shutil

import pytest

from conftest import QUADRATIC, run_task

TASK = QUADRATIC / "task.py"


def sweep_draft(tmp_path, text: str):
    """The quadratic experiment's tree with ``settings/draft.yaml`` holding ``text``, swept
    with ``settings=draft``."""
    tree = tmp_path / "experiment"
    shutil.copytree(QUADRATIC / "experiment", tree)
    (tree / "settings" / "draft.yaml").write_text(text)
    return run_task(
        "-cp",
        str(tree),
        "settings=draft",
        "budget=1",
        "-m",
        workdir=tmp_path,
        script=TASK,
        check=False,
    )


@pytest.mark.parametrize(
    "text",
    ["", "# to be written\n", "steps: ${budget}\n"],
    ids=["empty", "comment-only", "no-package-header"],
)
def test_a_settings_file_without_global_package_is_named_with_the_header_to_add(tmp_path, text):
    refused = sweep_draft(tmp_path, text)
    assert refused.returncode != 0
    assert "top-level key 'settings' is not a task key" in refused.output
    assert "start it with '# @package _global_'" in refused.output
    assert "settings/draft.yaml" in refused.output


@pytest.mark.parametrize("entry", ["/scale: steep", "override /scale: steep"])
def test_a_settings_file_choosing_an_option_without_global_package_says_to_add_it(tmp_path, entry):
    """Hydra alone says "No earlier Group Default for 'scale@settings.scale'"."""
    refused = sweep_draft(tmp_path, f"defaults:\n  - {entry}\nsteps: ${{budget}}\n")
    assert refused.returncode == 1, refused.output
    assert f"settings/draft.yaml: '- {entry}' chooses an option of a group" in refused.output
    assert "start it with '# @package _global_'" in refused.output
    assert "No earlier Group Default" not in refused.output
    assert not (tmp_path / "results").exists()


@pytest.mark.parametrize("name", ["draft,v2", "draft=v2", "draft v2"])
def test_a_settings_file_named_as_no_override_value_is_named_with_how_to_rename_it(tmp_path, name):
    """glob(*) lists it, and Hydra would read 'settings=draft,v2' as two options (or refuse
    the grammar of 'settings=draft=v2'), deep in the checks."""
    tree = tmp_path / "experiment"
    shutil.copytree(QUADRATIC / "experiment", tree)
    shutil.copy(tree / "settings" / "unit.yaml", tree / "settings" / f"{name}.yaml")
    refused = run_task("-cp", str(tree), "-m", workdir=tmp_path, script=TASK, check=False)
    assert refused.returncode == 1, refused.output
    assert f"the option {name!r} of settings (settings/{name}.yaml)" in refused.output
    assert "rename the file" in refused.output
    assert not (tmp_path / "results").exists()
