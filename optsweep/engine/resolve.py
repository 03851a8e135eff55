"""Resolved configs of a sweep's jobs, resolving per job only what can differ between them.

Checking a sweep needs every job's resolved config, and OmegaConf resolves a whole config in
about half a millisecond, mostly parsing the same interpolation strings again. But the jobs
of one *family* (``compose.FastComposer``: same config-group choices, the same keys overridden with
values holding no interpolation, as in any grid) have identical configs apart from the
values of those keys. So OmegaConf resolves a family's first job in full, and this module
sorts that job's leaves once, with OmegaConf's own grammar parser:

- an overridden key: read from each job's config;
- an interpolation that may depend on an overridden key (directly or through other
  interpolations): read from each job's config, which OmegaConf resolves, except that
  ``${key}`` of an overridden key in an untyped node is simply that key's value;
- an interpolation that is not a plain absolute reference (``${.sibling}``, ``${a[0]}``) or
  calls a resolver not known to be deterministic (``${hydra:job.num}``, ``${now:...}``):
  read from each job's config, with the job's Hydra node filled in first;
- everything else: the same in every job, taken from the first job.

``tests/test_resolve.py`` compares the outcome with OmegaConf's full resolution of every
job, on every settings file and on a tree of awkward interpolations.
"""

import re
from dataclasses import dataclass
from typing import Any

from omegaconf import AnyNode, Container, DictConfig, OmegaConf, ValueNode

from optsweep.engine import internals

# Resolvers whose value depends only on their arguments, so an interpolation calling only
# these is constant across a family unless its arguments are not.
DETERMINISTIC_RESOLVERS = frozenset({"project_path"})

_ABSOLUTE_REFERENCE = re.compile(r"\$\{([A-Za-z_][\w-]*(?:\.[A-Za-z_][\w-]*)*)\}")

Path = tuple  # keys from the root: str for mappings, int for lists


def resolve_in_full(cfg: DictConfig) -> dict:
    """``cfg`` as plain containers, every interpolation resolved, ``???`` an error."""
    resolved = OmegaConf.to_container(cfg, resolve=True, throw_on_missing=True)
    assert isinstance(resolved, dict)
    return resolved


def _leaves(container, path: Path = ()):
    """(path, value) of every leaf of a plain container (empty containers and tuples are
    leaves)."""
    items = (
        container.items()
        if isinstance(container, dict)
        else enumerate(container)
        if isinstance(container, list)
        else None
    )
    if not items:
        yield path, container
        return
    for key, value in items:
        yield from _leaves(value, (*path, key))


def _interpolation_parts(text: str) -> tuple[set[Path], bool] | None:
    """(the absolute keys ``text`` refers to, whether it calls a resolver), or None if it
    refers relatively or indirectly, or calls a resolver outside ``DETERMINISTIC_RESOLVERS``."""
    try:
        tree = internals.interpolation_tree(text)
    except Exception:  # OmegaConf's resolution decides what such a string means
        return None
    references, calls, stack = set(), False, [tree]
    while stack:
        node = stack.pop()
        if internals.is_reference(node):
            match = _ABSOLUTE_REFERENCE.fullmatch(node.getText())
            if match is None:
                return None
            references.add(tuple(match[1].split(".")))
        else:
            resolver = internals.resolver_name(node)
            if resolver is not None:
                if resolver not in DETERMINISTIC_RESOLVERS:
                    return None
                calls = True
        stack.extend(getattr(node, "children", None) or ())
    return references, calls


def _as_text(path: Path) -> Path:
    return tuple(map(str, path))


def _related(a: Path, b: Path) -> bool:
    """Whether one of two key paths (as text) lies inside the other (or they are equal)."""
    return a[: len(b)] == b or b[: len(a)] == a


def _mapped(container, key: str) -> Path | None:
    """The path of a dotted override key (``method.options.maxfun``, ``x0.1``) in a plain
    container, or None if it does not lead to an existing entry."""
    path: list[str | int] = []
    for part in key.split("."):
        if isinstance(container, dict) and part in container:
            container = container[part]
            path.append(part)
        elif isinstance(container, list) and part.isdigit() and int(part) < len(container):
            container = container[int(part)]
            path.append(int(part))
        else:
            return None
    return tuple(path)


def _value(cfg: DictConfig, path: Path):
    """The value at ``path`` of ``cfg``, resolved by OmegaConf, as ``resolve_in_full`` gives
    it: plain containers, and plain ``str`` for OmegaConf's string subclasses (an escaped
    ``\\???`` is read as one)."""
    node = _stored_node(cfg, path)
    if node is not None:  # a value as stored: nothing to resolve
        return _plain(node._value())
    value = cfg
    for key in path:
        value = value[key]
    return _plain(value)


def _stored_node(cfg: DictConfig, path: Path) -> ValueNode | None:
    """The value node at ``path`` if reaching it and reading it resolves nothing (each
    container on the way holds its items, the value is no interpolation or missing value):
    its stored value is what OmegaConf's access gives, which costs ten times more. Else
    None (conservatively: any string with ``${`` or ``???``)."""
    node: Any = cfg
    for key in path:
        content = node.__dict__.get("_content") if isinstance(node, Container) else None
        if type(content) is dict and key in content:
            node = content[key]
        elif type(content) is list and type(key) is int and 0 <= key < len(content):
            node = content[key]
        else:
            return None
    if not isinstance(node, ValueNode):
        return None
    value = node._val
    if isinstance(value, str) and ("${" in value or "???" in value):
        return None
    return node


def _plain(value: Any) -> Any:
    if isinstance(value, Container):
        return OmegaConf.to_container(value, resolve=True, throw_on_missing=True)
    if isinstance(value, str):
        return str(value)
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value


def _copy(value):
    if isinstance(value, dict):
        return {key: _copy(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_copy(item) for item in value]
    return value


def _set(container, path: Path, value) -> None:
    for key in path[:-1]:
        container = container[key]
    container[path[-1]] = value


@dataclass(frozen=True)
class Family:
    """What the jobs of one family share, and where each job's own values come from."""

    shared: dict  # the first job's resolved config
    changed: tuple[Path, ...]  # overridden keys: read from each job
    aliases: tuple[tuple[Path, Path], ...]  # (leaf, overridden key) for ``${key}`` leaves
    reresolved: tuple[Path, ...]  # interpolations OmegaConf resolves for each job
    needs_hydra_node: bool  # some of them may read the job's Hydra node

    @classmethod
    def learn(cls, cfg: DictConfig, changed_keys: tuple[str, ...], resolved: dict):
        """The family of job config ``cfg`` (keys ``changed_keys`` overridden, none inside
        another: ``FastComposer`` gives such jobs no family), whose full resolution is
        ``resolved``; None if a key cannot be placed or the config holds a tuple (then every
        job of the family is resolved in full)."""
        unresolved = OmegaConf.to_container(cfg, resolve=False)
        leaves = dict(_leaves(unresolved))
        mapped = [_mapped(unresolved, key) for key in changed_keys]
        changed = tuple(path for path in mapped if path is not None)
        if len(changed) < len(mapped) or any(isinstance(v, tuple) for v in leaves.values()):
            return None  # a key not found, or a tuple (typed TupleConfig), not walked into
        changed_text = [_as_text(path) for path in changed]
        interpolations = {}  # path -> (references as text, calls a resolver) or None
        for path, value in leaves.items():
            if (
                isinstance(value, str)
                and "${" in value
                and not any(_related(_as_text(path), c) for c in changed_text)
            ):
                interpolations[path] = _interpolation_parts(value)
        opaque = [path for path, parts in interpolations.items() if parts is None]
        dependent = changed_text + [_as_text(path) for path in opaque]
        per_job = set(opaque)
        grew = True
        while grew:  # interpolations depending on overridden keys, directly or not
            grew = False
            for path, parts in interpolations.items():
                assert parts is not None or path in per_job  # opaque ones are per job
                if (
                    path not in per_job
                    and parts is not None
                    and any(_related(reference, d) for reference in parts[0] for d in dependent)
                ):
                    per_job.add(path)
                    dependent.append(_as_text(path))
                    grew = True
        aliases: list[tuple[Path, Path]] = []
        for path in sorted(per_job - set(opaque), key=_as_text):
            match = _ABSOLUTE_REFERENCE.fullmatch(leaves[path])
            source = tuple(match[1].split(".")) if match else None
            if (
                source is not None
                and source in changed_text
                and type(internals.node_at(cfg, path)) is AnyNode
            ):
                aliases.append((path, changed[changed_text.index(source)]))
        aliased = {path for path, _ in aliases}
        return cls(
            _copy(resolved),
            changed,
            tuple(aliases),
            tuple(sorted(per_job - aliased, key=_as_text)),
            bool(opaque),
        )

    def resolve(self, cfg: DictConfig) -> dict:
        """The resolved config of job ``cfg`` of this family (its Hydra node current if
        ``needs_hydra_node``): equal to ``resolve_in_full(cfg)``. If this raises, resolve in
        full: the error to report is OmegaConf's own."""
        resolved = _copy(self.shared)
        values = {}
        for path in self.changed:
            values[path] = _value(cfg, path)
            _set(resolved, path, values[path])
        for path, source in self.aliases:
            _set(resolved, path, _copy(values[source]))
        for path in self.reresolved:
            _set(resolved, path, _value(cfg, path))
        return resolved


class FamilyResolver:
    """``resolve_in_full`` for the jobs of a sweep, by family where it can (module docstring).

    ``known(job)`` gives the job's ``Family`` once its first job was resolved in full and
    passed to ``learn``; until then, and for jobs of no family, resolve in full.
    """

    def __init__(self):
        self.families: dict[tuple, Family | None] = {}

    def known(self, family_key: tuple | None) -> Family | None:
        return self.families.get(family_key) if family_key is not None else None

    def learn(
        self,
        family_key: tuple | None,
        cfg: DictConfig,
        changed_keys: tuple[str, ...],
        resolved: dict,
    ) -> None:
        if family_key is not None and family_key not in self.families:
            self.families[family_key] = Family.learn(cfg, changed_keys, resolved)
