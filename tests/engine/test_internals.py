"""Pins the behaviour of each private Hydra/OmegaConf/plugin API the engine relies on (all of
them are used through optsweep.engine.internals): an upgrade that changes one fails here,
naming it."""

from dataclasses import dataclass

import pytest
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.utils import JobReturn, JobStatus
from hydra.experimental.callback import Callback
from hydra.types import HydraContext
from hydra_plugins.hydra_joblib_launcher.joblib_launcher import JoblibLauncher
from omegaconf import AnyNode, DictConfig, IntegerNode, OmegaConf, read_write

from optsweep.engine import internals


def parsed(*overrides: str):
    return OverridesParser.create().parse_overrides(list(overrides))


def test_apply_overrides_changes_adds_and_deletes_in_place():
    cfg = OmegaConf.create({"a": 1, "b": {"c": 2}, "d": 3})
    OmegaConf.set_struct(cfg, True)
    internals.apply_overrides(parsed("a=10", "b.c=[1,2]", "+e=x", "~d"), cfg)
    assert OmegaConf.to_container(cfg) == {"a": 10, "b": {"c": [1, 2]}, "e": "x"}


# Each override on each config: the in-place path where it applies, Hydra's elsewhere.
OVERRIDES = [
    "a=10", "a=x", "a=1.5e3", "a=true", "a=null", "b.c=3", "b.d=4", "b.e=5", "m=7",
    "b.c='${a}'", "b.c=???", "l.0=5", "a=[1,2]", "a={k:1}", "+z=1", "b.zz=1", "~a",
    "typed.n=2", "typed.n=x", "ro.v=2", "none.v=1", "link.c=1",
]  # fmt: skip


def configs():
    cfg = OmegaConf.create(
        {
            "a": 1,
            "b": {"c": "x", "d": None, "e": "${a}"},
            "m": "???",
            "l": [1, 2],
            "typed": OmegaConf.structured(Typed),
            "ro": {"v": 1},
            "none": None,
            "link": "${b}",
        }
    )
    OmegaConf.set_readonly(cfg.ro, True)
    struct = OmegaConf.create(OmegaConf.to_container(cfg))
    OmegaConf.set_struct(struct, True)
    return cfg, struct


@pytest.mark.parametrize("override", OVERRIDES)
def test_apply_overrides_in_place_gives_what_hydras_code_gives(override):
    """The in-place setting of a plain value must be indistinguishable from Hydra's: the same
    config (values and their types) or the same error."""
    for fast, slow in zip(configs(), configs(), strict=True):
        outcomes = []
        for apply, cfg in ((internals.apply_overrides, fast), (_hydras, slow)):
            try:
                apply(parsed(override), cfg)
                outcomes.append(("ok", _typed(OmegaConf.to_container(cfg))))
            except Exception as error:
                outcomes.append((type(error).__name__, str(error).split("\n")[0]))
        assert outcomes[0] == outcomes[1], override


def _hydras(overrides, cfg):
    from hydra._internal.config_loader_impl import ConfigLoaderImpl

    ConfigLoaderImpl._apply_overrides_to_config(overrides, cfg)


def _typed(value):
    if isinstance(value, dict):
        return {key: _typed(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_typed(item) for item in value]
    return (type(value).__name__, value)


def test_apply_overrides_sets_plain_values_in_place_and_leaves_the_rest_to_hydra():
    cfg, _ = configs()
    simple = [o for o in parsed(*OVERRIDES) if internals._plain_value_node(o, cfg) is not None]
    assert [str(o.input_line) for o in simple] == [
        "a=10", "a=x", "a=1.5e3", "a=true", "b.c=3", "b.d=4", "b.e=5", "m=7",
    ]  # fmt: skip


def test_is_basic_launcher_tells_hydras_in_process_launcher_from_others():
    from hydra._internal.core_plugins.basic_launcher import BasicLauncher

    assert internals.is_basic_launcher(BasicLauncher())
    assert not internals.is_basic_launcher(JoblibLauncher())
    assert not internals.is_basic_launcher(None)


def test_job_error_is_the_exception_a_failed_job_raised():
    error = RuntimeError("boom")
    ret = JobReturn(status=JobStatus.FAILED)
    ret.return_value = error
    assert internals.job_error(ret) is error
    with pytest.raises(RuntimeError):
        ret.return_value  # noqa: B018 (the public accessor re-raises)
    done = JobReturn(status=JobStatus.COMPLETED)
    done.return_value = 1.5
    assert internals.job_error(done) is None


class Recorder(Callback):
    pass


def test_job_callbacks_are_the_instantiated_hydra_callbacks():
    from hydra._internal.callbacks import Callbacks

    config = OmegaConf.create(
        {"hydra": {"callbacks": {"mine": {"_target_": f"{__name__}.Recorder"}}}}
    )
    from hydra.utils import execution_whitelist

    with execution_whitelist([f"{__name__}.Recorder"]):
        context = HydraContext(config_loader=None, callbacks=Callbacks(config))
    (callback,) = internals.job_callbacks(context)
    assert isinstance(callback, Recorder)


def test_the_current_hydra_node_resolves_against_the_template_it_was_set_from():
    from hydra.conf import HydraConf

    template = OmegaConf.merge(
        OmegaConf.structured({"hydra": HydraConf}),
        {"hydra": {"sweep": {"dir": "d", "subdir": "${hydra.job.num}"}, "job": {"num": 1}}},
    )
    assert isinstance(template, DictConfig)
    node = internals.set_job_hydra_node(template)
    assert internals.current_hydra_root() is node and node is not template
    assert node.hydra.sweep.subdir == "1"
    with read_write(template.hydra):  # as compose.JobConfig.describe does
        template.hydra.job.num = 7
    assert node.hydra.sweep.subdir == "7"


@dataclass
class Typed:
    n: int = 1


def test_node_at_gives_the_unresolved_node_and_its_type():
    cfg = OmegaConf.create({"a": {"b": "${c}", "l": [1, 2]}, "c": 1})
    assert type(internals.node_at(cfg, ("a", "b"))) is AnyNode
    assert internals.node_at(cfg, ("a", "b"))._value() == "${c}"
    assert type(internals.node_at(OmegaConf.structured(Typed), ("n",))) is IntegerNode
    assert internals.node_at(cfg, ("a", "l", 1))._value() == 2


def _walk(tree):
    stack = [tree]
    while stack:
        node = stack.pop()
        yield node
        stack.extend(getattr(node, "children", None) or ())


def test_interpolation_trees_name_their_references_and_resolvers():
    nodes = list(_walk(internals.interpolation_tree("x ${a.b} ${project_path:results}")))
    assert [n.getText() for n in nodes if internals.is_reference(n)] == ["${a.b}"]
    assert [internals.resolver_name(n) for n in nodes if internals.resolver_name(n)] == [
        "project_path"
    ]
    with pytest.raises(Exception):  # noqa: B017 (OmegaConf's grammar error, whatever its class)
        internals.interpolation_tree("${a")


def test_a_configured_list_sweep_knows_the_config_loader():
    loader = object()
    override = internals.choice_sweep_override("bar", [1, True], loader)
    assert override.config_loader is loader
    assert list(override.sweep_string_iterator()) == ["1", "True"]


def test_nevergrad_internals_read_the_search_space():
    import nevergrad as ng
    from hydra_plugins.hydra_nevergrad_sweeper.config import OptimConf

    params = OmegaConf.create({"a": "interval(0, 1)", "b": {"lower": 1, "upper": 2, "log": True}})
    sweeper = internals.NevergradSweeperImpl(OptimConf(), None, params)
    mappings, overrides = internals.nevergrad_params(sweeper)
    assert isinstance(mappings["b"], ng.p.Log) and overrides == ["a=interval(0, 1)"]
    (log_interval,) = parsed("x=tag(log, interval(0.001, 1))")
    assert isinstance(internals.nevergrad_parameter(log_interval), ng.p.Log)
    (constant,) = parsed("y=3")
    assert internals.nevergrad_parameter(constant) == "3"


def test_the_nevergrad_sweeper_keeps_what_the_search_extends():
    """optsweep.engine.search.nevergrad subclasses it and reads these attributes; its setup
    (run end to end by tests/test_search.py) fills in launcher, config and job_idx."""
    import inspect

    from hydra_plugins.hydra_nevergrad_sweeper.config import OptimConf

    optim = OptimConf()
    sweeper = internals.NevergradSweeperImpl(optim, None, None)
    assert sweeper.opt_config is optim and sweeper.params is None
    assert (sweeper.launcher, sweeper.config, sweeper.job_idx) == (None, None, None)
    setup = inspect.signature(sweeper.setup).parameters
    assert list(setup) == ["hydra_context", "task_function", "config"]
    source = inspect.getsource(internals.NevergradSweeperImpl.setup)
    assert all(f"self.{name} =" in source for name in ("launcher", "config", "job_idx"))


def test_joblib_launcher_options_are_what_its_launcher_would_pass_to_joblib():
    launcher = JoblibLauncher(n_jobs=-1, backend=None, pre_dispatch="2*n_jobs", max_nbytes="1000")
    assert internals.is_joblib_launcher(launcher)
    from hydra._internal.core_plugins.basic_launcher import BasicLauncher

    assert not internals.is_joblib_launcher(BasicLauncher())
    options = internals.joblib_options(launcher)
    assert options["backend"] == "loky" and options["max_nbytes"] == 1000
    assert launcher.joblib["backend"] is None, "the launcher's own config is left alone"
    import os

    assert internals.joblib_workers(options) == os.cpu_count()
    assert internals.joblib_workers({"n_jobs": 3}) == 3


def test_optuna_internals_read_the_search_space_and_reopen_a_trial():
    """optsweep.engine.search.optuna: hydra-optuna-sweeper's distributions of the override
    grammar, and a trial left RUNNING drawn to the end (kept values kept) and told."""
    import optuna
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    (log_interval,) = parsed("x=tag(log, interval(0.001, 1))")
    assert internals.optuna_distribution(log_interval) == FloatDistribution(0.001, 1, log=True)
    (integers,) = parsed("n=int(interval(2, 30))")
    assert internals.optuna_distribution(integers) == IntDistribution(2, 30)
    (choices,) = parsed("c=choice(a,b)")
    assert internals.optuna_distribution(choices) == CategoricalDistribution(["a", "b"])
    (constant,) = parsed("y=3")
    assert internals.optuna_distribution(constant) == "3"

    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    space = {"x": FloatDistribution(0, 1), "n": IntDistribution(2, 30)}
    asked = study.ask()
    kept = internals.suggest(asked, "x", space["x"])  # stopped before n was drawn
    (frozen,) = study.get_trials(deepcopy=False)
    reopened = internals.reopened_trial(study, frozen)
    assert [internals.suggest(reopened, k, d) for k, d in space.items()][0] == kept
    assert set(reopened.params) == {"x", "n"}
    study.tell(reopened, 1.0)
    assert study.trials[0].state is optuna.trial.TrialState.COMPLETE
