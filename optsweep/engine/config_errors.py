"""Config errors that name the file to fix, printed by Hydra in a line or two.

Hydra prints a ``CompactHydraException`` raised while it composes a config as its message
alone, and any other exception with a full traceback. A YAML syntax error reaches it as
PyYAML's exception, so the file and line come last, under some ninety lines of Hydra's and
PyYAML's frames; a value that is not a valid interpolation (``${budget``) reaches it as
OmegaConf's grammar error, which names the key but not the file. The config sources of
``hydra_plugins/optsweep_sweeper/tree_source.py`` raise ``ConfigSyntaxError`` instead.
"""

from pathlib import Path

import yaml
from hydra.errors import ConfigCompositionException
from hydra.plugins.config_source import ConfigLoadError
from omegaconf.errors import GrammarParseError

from optsweep.engine.paths import shown


class ConfigSyntaxError(ConfigLoadError, ConfigCompositionException):
    """A config file that is not valid YAML. A ``ConfigLoadError`` (what a config source
    raises for a file it cannot load) that Hydra prints compactly."""


def syntax_error(path: Path, error: yaml.YAMLError) -> ConfigSyntaxError:
    """``error`` as ``<file>:<line>:<column>: YAML syntax error: <PyYAML's message>``, with
    PyYAML's context (``while parsing a block mapping``) and where it starts."""
    if not isinstance(error, yaml.MarkedYAMLError) or error.problem_mark is None:
        return ConfigSyntaxError(f"{shown(path)}: YAML syntax error: {error}")
    mark = error.problem_mark
    message = f"{shown(path)}:{mark.line + 1}:{mark.column + 1}: YAML syntax error: {error.problem}"
    if error.context:
        context = error.context
        start = error.context_mark
        if start is not None and (start.line, start.column) != (mark.line, mark.column):
            context += f" that starts at {start.line + 1}:{start.column + 1}"
        message += f" ({context})"
    return ConfigSyntaxError(message)


def interpolation_error(path: Path, error: GrammarParseError) -> ConfigSyntaxError:
    """``error`` as ``<file>:<line>: <key>: <value> is not a valid interpolation (<OmegaConf's
    message>)``: the line of the key in the file, if found."""
    problem = str(error.msg).split("\n", 1)[0]
    key = error.full_key or ""
    line = _line_of(path, key.split(".")) if key else None
    where = f"{shown(path)}:{line}" if line is not None else shown(path)
    return ConfigSyntaxError(
        f"{where}: {key or 'a value'} is not a valid interpolation ({problem}): write "
        "${key} or ${resolver:arguments}, and \\${ for a literal ${"
    )


def _line_of(path: Path, keys: list[str]) -> int | None:
    """The line (from 1) of the value at ``keys`` in the YAML file ``path``, else None."""
    try:
        node = yaml.compose(path.read_text())
    except (OSError, yaml.YAMLError):
        return None
    for key in keys:
        if isinstance(node, yaml.MappingNode):
            node = next((v for k, v in node.value if getattr(k, "value", None) == key), None)
        elif isinstance(node, yaml.SequenceNode) and key.isdigit() and int(key) < len(node.value):
            node = node.value[int(key)]
        else:
            return None
        if node is None:
            return None
    return node.start_mark.line + 1
