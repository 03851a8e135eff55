"""Every use of a private Hydra, OmegaConf or plugin internal, in one place.

Each buys something the public API does not offer (mostly speed: composing and resolving
thousands of jobs). tests/test_internals.py pins the behaviour each one relies on, so a Hydra
or OmegaConf upgrade that changes it fails there, naming the function, not in four modules at
once. Versions these were written against: hydra-core 1.4.0rc3, omegaconf 2.4.1rc1,
hydra-nevergrad-sweeper 1.4.0rc3, hydra-optuna-sweeper 1.4.0rc3, optuna 5.0.0.
"""

import contextlib
import io
import re
from typing import Any

from hydra.core.hydra_config import HydraConfig
from hydra.core.override_parser.types import ChoiceSweep, Override, OverrideType, ValueType
from hydra.core.utils import JobReturn, JobStatus
from hydra.plugins.launcher import Launcher
from hydra.types import HydraContext
from omegaconf import AnyNode, DictConfig, Node, OmegaConf


def apply_overrides(overrides: list[Override], cfg: DictConfig) -> None:
    """Apply parsed value overrides (``key=value``, ``+key=value``, ``~key``) to ``cfg`` in
    place, as Hydra's composition does after merging the defaults list, one after the other.

    ``key=value`` of a plain value (a number, a string, a bool) onto an untyped value node
    that a path of untyped mappings reaches (any YAML key, ``maxfun=10``) sets that node's
    value directly: the one step of ``OmegaConf.update`` that such an override takes, without
    its walk through the key path (a fifth of a millisecond each, thousands of times a
    sweep). Anything else is Hydra's own code, errors included."""
    from hydra._internal.config_loader_impl import ConfigLoaderImpl

    for override in overrides:
        node = _plain_value_node(override, cfg)
        if node is None:
            ConfigLoaderImpl._apply_overrides_to_config([override], cfg)
        else:
            node._set_value(override.value())  # as OmegaConf.update sets an untyped node


# A key path of plain names, as ``OmegaConf.update`` splits it without escapes or brackets.
_PLAIN_KEY = re.compile(r"[A-Za-z_][\w-]*(\.[A-Za-z_][\w-]*)*")


def _plain_value_node(override: Override, cfg: DictConfig) -> AnyNode | None:
    """The untyped, writable value node that ``override`` (``key=value`` of a plain value)
    changes, if ``OmegaConf.update`` would simply set its value; else None."""
    value = override.value()
    if (
        override.type is not OverrideType.CHANGE
        or override.package is not None
        or type(value) not in (int, float, bool, str)
        or (isinstance(value, str) and ("${" in value or value == "???"))
        or not _PLAIN_KEY.fullmatch(override.key_or_group)
    ):
        return None
    node: Node | None = cfg
    for part in override.key_or_group.split("."):
        if not _plain_mapping(node):
            return None
        assert isinstance(node, DictConfig)
        node = node._get_node(part, validate_access=False)
    if type(node) is not AnyNode or node._get_flag("readonly"):
        return None
    parent = node._get_parent()
    if not _plain_mapping(parent):
        return None
    assert parent is not None
    return None if parent._get_flag("readonly") else node


def _plain_mapping(node: Any) -> bool:
    """An untyped mapping node that holds keys (its content a dict: not None, missing or an
    interpolation)."""
    if type(node) is not DictConfig:
        return False
    metadata = node._metadata
    return (
        metadata.ref_type in (Any, dict)
        and metadata.object_type in (None, dict)
        and metadata.element_type is Any
        and type(node.__dict__.get("_content")) is dict
    )


def is_basic_launcher(launcher: Launcher | None) -> bool:
    """Whether ``launcher`` is Hydra's own in-process launcher (``hydra/launcher=basic``)."""
    from hydra._internal.core_plugins.basic_launcher import BasicLauncher

    return type(launcher) is BasicLauncher


def is_joblib_launcher(launcher: Launcher | None) -> bool:
    """Whether ``launcher`` is hydra-joblib-launcher's (``hydra/launcher=joblib``)."""
    from hydra_plugins.hydra_joblib_launcher.joblib_launcher import JoblibLauncher

    return isinstance(launcher, JoblibLauncher)


def joblib_options(launcher: Any) -> dict[str, Any]:
    """The ``joblib.Parallel`` arguments hydra-joblib-launcher makes of its config (backend
    filled in, numbers parsed), without launching anything."""
    from hydra_plugins.hydra_joblib_launcher._core import process_joblib_cfg

    options = dict(launcher.joblib)
    process_joblib_cfg(options)
    return options


def joblib_workers(options: dict[str, Any]) -> int:
    """How many workers ``joblib.Parallel(**options)`` runs at once."""
    from joblib import effective_n_jobs

    return int(effective_n_jobs(options.get("n_jobs")))


def job_failed(ret: JobReturn, error: BaseException) -> None:
    """Make ``ret`` a failed job's return of ``error``, as Hydra's ``run_job`` does: with the
    traceback, cause and group serialized, so that ``job_error`` restores them after the
    return crossed processes (a pool worker's or an array task's)."""
    from hydra.core import utils

    ret.return_value, ret.status = error, JobStatus.FAILED
    try:
        ret._remote_traceback = utils._serialize_traceback(error.__traceback__)
        ret._remote_exception_chain = utils._serialize_exception_chain(error)
        ret._remote_exception_group = utils._serialize_exception_group(error)
    except Exception:  # as Hydra: the error itself is still returned
        pass


def job_error(ret: JobReturn) -> BaseException | None:
    """The exception a failed job raised, with its traceback and cause even when it was raised
    in another process (a joblib worker, a SLURM task): Hydra's ``JobReturn.return_value``
    restores them from what the job's process sent (``job_failed``) and re-raises the
    exception, after writing "Error executing job ..." to stderr, which is caught here. The
    frames of that re-raise are dropped again, so every call gives the same traceback."""
    if ret.status is not JobStatus.FAILED:
        error = ret._return_value
        return error if isinstance(error, BaseException) else None
    try:
        with contextlib.redirect_stderr(io.StringIO()):
            ret.return_value  # noqa: B018  (raises the job's exception, restored)
    except BaseException as error:  # the job's own exception, whatever it is
        traceback = error.__traceback__
        while traceback is not None and traceback.tb_frame.f_code in _RERAISING:
            traceback = traceback.tb_next
        error.__traceback__ = traceback
        return error
    return None


# The frames ``job_error``'s re-raise adds to an exception's traceback.
_RERAISING = (job_error.__code__, JobReturn.return_value.fget.__code__)  # type: ignore[attr-defined]


def job_callbacks(hydra_context: HydraContext) -> list[Any]:
    """The callback objects of ``hydra.callbacks``, instantiated by Hydra for this run."""
    return list(getattr(hydra_context.callbacks, "callbacks", []))


def set_job_hydra_node(template: DictConfig) -> DictConfig:
    """Make ``template``'s Hydra node current (``HydraConfig.get()``, ``${hydra:...}``) and
    return the copy Hydra keeps. That copy is parented to ``template``, so interpolations in
    the node (``sweep.subdir: ${hydra.job.num}``) resolve against ``template.hydra``: a job
    composed from a template must describe itself in both (``compose.JobConfig.describe``)."""
    holder = HydraConfig.instance()
    holder.set_config(template)
    assert isinstance(holder.cfg, DictConfig)
    return holder.cfg


def current_hydra_root() -> DictConfig | None:
    """The config whose Hydra node is current, as ``set_job_hydra_node`` returned it."""
    return HydraConfig.instance().cfg  # type: ignore[return-value]


def node_at(cfg: DictConfig, path: tuple) -> Node:
    """The node at ``path`` (keys from the root) of ``cfg``, unresolved."""
    node: Any = cfg
    for key in path:
        node = node._get_node(key)
    return node


def interpolation_tree(text: str) -> Any:
    """OmegaConf's parse tree of a string that may hold interpolations (raises on bad ones)."""
    from omegaconf.grammar_parser import parse

    return parse(text)


def is_reference(node: Any) -> bool:
    """Whether a parse-tree node is an interpolation of a key (``${a.b}``)."""
    from omegaconf.grammar.gen.OmegaConfGrammarParser import OmegaConfGrammarParser

    return isinstance(node, OmegaConfGrammarParser.InterpolationNodeContext)


def resolver_name(node: Any) -> str | None:
    """The resolver a parse-tree node calls (``${name:...}``), or None if it calls none."""
    from omegaconf.grammar.gen.OmegaConfGrammarParser import OmegaConfGrammarParser

    if isinstance(node, OmegaConfGrammarParser.InterpolationResolverContext):
        return node.resolverName().getText()
    return None


def choice_sweep_override(key: str, values: list, config_loader: Any) -> Override:
    """``key`` swept over ``values`` (a YAML list in ``hydra.sweeper.overrides``), as
    hydra-experiment-sweeper builds it, knowing the config loader (for ``glob``)."""
    return Override(
        type=OverrideType.CHANGE,
        key_or_group=key,
        value_type=ValueType.CHOICE_SWEEP,
        _value=ChoiceSweep(list=values),
        config_loader=config_loader,
    )


def nevergrad_params(sweeper: Any) -> tuple[dict[str, Any], list[str]]:
    """hydra-nevergrad-sweeper's reading of its ``params``/``parametrization`` config: (the
    nevergrad parameters given as mappings, the others as override strings)."""
    return sweeper._process_parameter_config()


def nevergrad_parameter(override: Override) -> Any:
    """The nevergrad parameter hydra-nevergrad-sweeper makes of one parsed override (a sweep:
    a search dimension; a plain value: a constant)."""
    from hydra_plugins.hydra_nevergrad_sweeper._impl import (
        create_nevergrad_parameter_from_override,
    )

    return create_nevergrad_parameter_from_override(override)


def optuna_distribution(override: Override) -> Any:
    """The Optuna distribution hydra-optuna-sweeper makes of one parsed override (interval,
    ``tag(log, ...)``, ``int(...)``, choice, range: a search dimension; a plain value: its
    string, a constant). Imports optuna."""
    from hydra_plugins.hydra_optuna_sweeper._impl import create_optuna_distribution_from_override

    return create_optuna_distribution_from_override(override)


def reopened_trial(study: Any, frozen: Any) -> Any:
    """An Optuna ``Trial`` of ``study`` for the stored trial ``frozen`` (its ``FrozenTrial``),
    as ``Study.ask`` makes one: a trial left RUNNING by a stopped process can then be drawn to
    the end, have attributes set and be told. The sampler's ``before_trial`` runs, as in ask."""
    import optuna

    return optuna.Trial(study, frozen._trial_id)


def suggest(trial: Any, name: str, distribution: Any) -> Any:
    """Draw parameter ``name`` of the Optuna ``Trial`` from ``distribution``, or return the value
    the trial already holds (as ``Study.ask(fixed_distributions=...)`` and hydra-optuna-sweeper
    do): completes a trial whose drawing was interrupted."""
    return trial._suggest(name, distribution)


def __getattr__(name: str) -> Any:
    """``NevergradSweeperImpl``: hydra-nevergrad-sweeper's sweeper, which the project's search
    extends. Imported on first use: it imports nevergrad (a second), which only searches need."""
    if name == "NevergradSweeperImpl":
        from hydra_plugins.hydra_nevergrad_sweeper._impl import NevergradSweeperImpl

        return NevergradSweeperImpl
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def is_slurm_launcher(launcher: Launcher | None) -> bool:
    """Whether ``launcher`` is hydra-submitit-launcher's SLURM launcher."""
    from hydra_plugins.hydra_submitit_launcher.submitit_launcher import SlurmLauncher

    return isinstance(launcher, SlurmLauncher)


def submitit_params(launcher: Any) -> dict[str, Any]:
    """hydra-submitit-launcher's queue parameters (``hydra.launcher.*``), resolved."""
    return dict(launcher.params)


def submitit_executor(launcher: Any, **changes: Any) -> Any:
    """The ``submitit.AutoExecutor`` hydra-submitit-launcher builds from its config (as its
    ``launch`` does), with ``changes`` to the queue parameters (``timeout_min=...``)."""
    import submitit
    from hydra_plugins.hydra_submitit_launcher.config import BaseQueueConf

    cluster = launcher._EXECUTOR
    params = {**launcher.params, **changes}
    specific_init_keys = {"max_num_timeout", "python"}
    init = {"folder": params["submitit_folder"]}
    init.update({f"{cluster}_{k}": v for k, v in params.items() if k in specific_init_keys})
    executor = submitit.AutoExecutor(cluster=cluster, **init)
    base = set(OmegaConf.structured(BaseQueueConf).keys())
    executor.update_parameters(
        **{
            key if key in base else f"{cluster}_{key}": value
            for key, value in params.items()
            if key not in specific_init_keys | {"submitit_folder"}
        }
    )
    return executor
