"""The search loop behind ``hydra/sweeper=nevergrad`` and ``search=...``.

Compared with hydra-nevergrad-sweeper 1.4.0rc3, whose parametrization it reuses:
- failed and non-finite evaluations are failures (in the trace, and counted) told to nevergrad
  as bad values (``FAILED_LOSS``) as long as at most ``optim.max_failure_rate`` of the whole
  search fails (upstream: of each batch); past that,
  or if nothing succeeded, the search exits non-zero and reports no best point;
- a fixed default seed, so the same definition gives the same evaluations;
- the trace, the best evaluated point, nevergrad's recommendation and the optimizer state go
  to ``state_dir`` (``optsweep.engine.search.state``) at a batch's end at most every second,
  and when the search ends or stops; rerunning the same search resumes from there without
  repeating finished evaluations (those after the saved state are told again, not
  evaluated);
- at the end, the best *evaluated* point is also written as a settings file, if the search
  tunes a setting of the experiment tree.
"""

import difflib
import json
import logging
from pathlib import Path
from typing import Any

import nevergrad as ng
from hydra.core.override_parser.overrides_parser import OverridesParser
from omegaconf import OmegaConf

from optsweep.engine import internals
from optsweep.engine.experiment import experiment_of
from optsweep.engine.files import job_lock
from optsweep.engine.limits import deferred_stops
from optsweep.engine.progress import ProgressReport
from optsweep.engine.search.config_checks import (
    absent_keys,
    mapped_keys,
    missing_values,
    unread_keys,
)
from optsweep.engine.search.context import fixed_keys, runs_on
from optsweep.engine.search.errors import SearchFailed, SearchRefused
from optsweep.engine.search.evaluations import evaluation_of
from optsweep.engine.search.launching import Evaluations, evaluations_for
from optsweep.engine.search.nevergrad_asynchronous import AsynchronousCandidates
from optsweep.engine.search.outcome import (
    best_or_fail,
    print_dry_run,
    raise_if_too_many_failed,
    report_best,
    stopping_says_so,
)
from optsweep.engine.search.ranges import unsearchable as unsearchable_range
from optsweep.engine.search.state import STATE, SearchState, seed_said
from optsweep.engine.store import ResultStore, identifying_overrides

log = logging.getLogger(__name__)

# The loss told to nevergrad for a failed evaluation: worse than any real objective value in
# a search box, and below nevergrad's clipping threshold (5e20), which would warn on inf.
FAILED_LOSS = 1e20


def check_definition(optim) -> None:
    """Refuse a search whose budget, workers or failure rate mean nothing (a search with 0
    workers would ask for empty batches forever)."""
    meaningless = []
    if not (isinstance(optim.budget, int) and optim.budget >= 1):
        meaningless.append(f"optim.budget={optim.budget}: evaluations, an integer >= 1")
    if not (isinstance(optim.num_workers, int) and optim.num_workers >= 1):
        meaningless.append(
            f"optim.num_workers={optim.num_workers}: evaluations asked at once, an integer >= 1"
        )
    rate = getattr(optim, "max_failure_rate", 0.0)
    if not 0 <= rate <= 1:
        meaningless.append(f"optim.max_failure_rate={rate}: a share of the budget, in [0, 1]")
    if optim.optimizer not in ng.optimizers.registry:
        close = difflib.get_close_matches(optim.optimizer, list(ng.optimizers.registry), n=1)
        meaningless.append(
            f"optim.optimizer={optim.optimizer}: not one of nevergrad's optimizers"
            + (f"; did you mean {close[0]}?" if close else " (ng.optimizers.registry)")
        )
    if meaningless:
        raise SearchRefused("search refused before any evaluation:\n  " + "\n  ".join(meaningless))


class NevergradSearch(internals.NevergradSweeperImpl):
    def __init__(
        self,
        optim,
        parametrization=None,
        params=None,
        state_dir=None,
        search_name=None,
        tunes_settings=None,
    ):
        super().__init__(optim, parametrization, params)
        self.objective = "the task's value"
        self.maximize = bool(optim.maximize)  # a plain Hydra app's; an experiment declares its own
        self.state_dir, self.search_name = state_dir, search_name
        self.tunes_settings = tunes_settings
        self.store: ResultStore | None = None
        self.experiment: Any = None  # the experiment of the task, if it is one
        self.task_function = None
        self.evaluations: Evaluations | None = None
        self.order: list[str] = []
        self.dry_run = False  # hydra.sweeper.dry_run of the experiment tree: say, run nothing
        self.constants: dict = {}

    def setup(self, *, hydra_context, task_function, config) -> None:
        super().setup(hydra_context=hydra_context, task_function=task_function, config=config)
        self.task_function = task_function
        task = experiment_of(task_function)
        self.store = ResultStore(task.experiment) if task is not None else None
        self.experiment = task.experiment if task is not None else None
        if task is not None:
            self._take_direction(task.experiment)

    def _take_direction(self, experiment) -> None:
        """The experiment declares the direction once; a search file's ``optim.maximize``
        that says otherwise is refused before anything runs."""
        optim = self.opt_config
        stated = OmegaConf.select(self.config, "hydra.sweeper.optim.maximize", default=None)
        stated = optim.maximize if stated is None else stated
        if stated is not None and bool(stated) != experiment.maximize:
            raise SearchFailed(
                f"search refused: optim.maximize={str(bool(stated)).lower()}, but experiment "
                f"{experiment.name!r} declares direction={experiment.direction!r}; declare the "
                "direction once, in Experiment(direction=...), and drop optim.maximize"
            )
        self.maximize = experiment.maximize
        self.objective = experiment.objective or "the task's value"

    def _parametrization(self, arguments: list[str]):
        """As upstream: the configured params plus the command-line overrides (sweeps become
        search dimensions, plain values constants). Returns it and its search-space keys."""
        params, params_conf = internals.nevergrad_params(self)
        given = len(params_conf)
        params_conf.extend(arguments)
        parser, problems = OverridesParser.create(), []
        params_of = f"params of search={self.search_name}" if self.search_name else "params"
        parsed = {}
        for number, line in enumerate(params_conf):
            origin = params_of if number < given else "command line"
            try:
                (override,) = parser.parse_overrides([line])
                unsearchable = unsearchable_range(override)
                if unsearchable is None:
                    params[override.get_key_element()] = internals.nevergrad_parameter(override)
                    parsed[number] = override
            except Exception as error:
                said = str(error).strip().splitlines()
                unsearchable = f"{type(error).__name__}: {said[0] if said else ''}"
            if unsearchable is not None:
                problems.append(f"{origin}: {line!r} cannot be searched: {unsearchable}")
        numbers = list(parsed)
        searched = list(parsed.values())
        for found in (
            absent_keys(searched, self.config),
            mapped_keys(searched, self.config, self.experiment),
        ):
            for position, why in found.items():
                number = numbers[position]
                origin = params_of if number < given else "command line"
                problems.append(f"{origin}: {params_conf[number]!r} cannot be searched: {why}")
        unread = unread_keys(self.config, self.experiment) if self.experiment else None
        if unread is not None:
            problems.append(f"the config of search={self.search_name}: {unread}")
        missing = missing_values(self.config, {k for k, v in params.items() if v != "???"})
        if missing is not None:
            problems.append(f"the config of search={self.search_name}: {missing}")
        space = sorted(k for k, v in params.items() if isinstance(v, ng.p.Parameter))
        if not space and not problems:
            problems.append(
                "no search dimension: give a parameter a range to search, interval(low, high), "
                "tag(log, interval(low, high)), choice(a, b, ...) or range(start, stop)"
            )
        if problems:
            raise SearchRefused("search refused before any evaluation:\n  " + "\n  ".join(problems))
        # This run's constants (launcher=..., output.dir=...), in the parametrization's order:
        # a resumed optimizer still holds the first run's.
        self.order = list(params)
        self.constants = {k: v for k, v in params.items() if k not in space}
        parametrization = ng.p.Dict(**params)
        parametrization.function.deterministic = not self.opt_config.noisy
        parametrization.random_state.seed(self.opt_config.seed)
        return parametrization, space, params_conf

    def _definition(self, params_conf) -> dict:
        optim = self.opt_config
        return {
            "optimizer": optim.optimizer,
            "budget": optim.budget,
            "num_workers": optim.num_workers,
            "seed": optim.seed,
            "noisy": optim.noisy,
            "maximize": self.maximize,
            "space": identifying_overrides([str(p) for p in params_conf]),
            # only when asked: the searches defined before the key keep their ids
            **({"asynchronous": True} if optim.asynchronous else {}),
            **runs_on(self.config, self.store),
        }

    def sweep(self, arguments: list[str]) -> None:
        optim = self.opt_config
        check_definition(optim)
        direction = -1 if self.maximize else 1
        parametrization, space, params_conf = self._parametrization(arguments)
        directory = Path(self.state_dir or Path(self.config.hydra.sweep.dir) / "search")
        state = SearchState(directory, self._definition(params_conf))
        state.logs = str(self.config.hydra.sweep.dir)
        state.library = "nevergrad"
        if self.dry_run:  # what the progress file says, the optimizer left unpickled
            done = state.saved_count() if (directory / STATE).exists() else 0
            seed = seed_said(optim.seed)
            what = f"nevergrad {optim.optimizer}, {self._pace(optim)}, seed {seed}"
            print_dry_run(self.search_name, what, done, optim.budget, directory)
            return
        with job_lock(directory / "search", "this search"):  # one process runs it at a time
            self._search(optim, state, parametrization, space, direction)

    def _search(self, optim, state, parametrization, space, direction) -> None:
        directory = state.directory
        state.take_directory()
        optimizer = state.resume()
        assert self.task_function is not None
        self.evaluations = evaluations_for(
            self,
            self.launcher,
            self.hydra_context,
            self.task_function,
            self.config,
            optim.num_workers,
        )
        pool = self._asynchronous_pool(optim)
        resumed = optimizer is not None
        if optimizer is None:
            optimizer = ng.optimizers.registry[optim.optimizer](
                parametrization=parametrization, budget=optim.budget, num_workers=optim.num_workers
            )
            # Its state is saved as the search goes: optimizers that run in a thread (NGOpt
            # with one worker picks such a one) pickle only if asked before their first ask.
            optimizer.enable_pickling()
            log.info(
                "Search %s %s %s, budget %d, %s, seed %s: %s",
                optim.optimizer,
                "maximizing" if self.maximize else "minimizing",
                self.objective,
                optim.budget,
                self._pace(optim),
                seed_said(optim.seed),
                directory,
            )
        else:
            log.info(
                "Resuming the search in %s: %d of %d evaluations done",
                directory,
                len(state.evaluations),
                optim.budget,
            )
        candidates = None
        if pool is not None:
            candidates = AsynchronousCandidates(
                optimizer,
                state,
                optim,
                point=lambda c: {key: c.value[key] for key in space},
                overrides=lambda c: self._overrides(c, space),
                loss=lambda e: FAILED_LOSS if e.value is None else direction * e.value,
                save=lambda optimizer, asked, final: self._save(
                    state, optimizer, space, asked=asked, final=final
                ),
            )
        if resumed:
            if candidates is not None:
                optimizer = candidates.told_again(_same_point)
            else:
                optimizer = self._told_again(optimizer, state, space, direction)
            raise_if_too_many_failed(state, optim.budget, optim.max_failure_rate, resumed=True)
        self.job_idx = len(state.evaluations)
        with (
            ProgressReport(self.config.hydra.sweep.dir, optim.budget - self.job_idx),
            stopping_says_so(state, optim.budget, self.evaluations),
        ):
            if candidates is not None:
                constants = [f"{k}={v}" for k, v in self.constants.items()]
                pool.compose_template(constants, self.job_idx)
                self.job_idx = candidates.run(pool, self.job_idx)
                optimizer = candidates.optimizer
            else:
                self._loop(optimizer, state, space, direction)
        best = best_or_fail(state, self.maximize, optim.max_failure_rate)
        report_best(
            state,
            best,
            optimizer="nevergrad",
            sweep_dir=self.config.hydra.sweep.dir,
            maximize=self.maximize,
            objective=self.objective,
            search_name=self.search_name,
            tunes_settings=self.tunes_settings,
            fixed=fixed_keys(self.config, self.search_name, self.store, best.params),
        )
        recommendation = optimizer.provide_recommendation().value
        log.info("Best parameters: %s", " ".join(f"{k}={recommendation[k]}" for k in space))

    def _told_again(self, optimizer, state, space, direction):
        """The resumed optimizer, told the trace's evaluations beyond its saved state: it asks
        for them again batch by batch, as the search did, and is told their values with no
        evaluation. If it asks for other points (it should not), it is restored again and
        those evaluations are checked as new ones (a saved result is found current)."""
        optim = self.opt_config
        told = state.told
        while told < len(state.evaluations):
            batch = min(optim.num_workers, optim.budget - told)
            rows = state.evaluations[told : told + batch]
            candidates = [optimizer.ask() for _ in range(batch)]
            asked = [{key: c.value[key] for key in space} for c in candidates]
            if len(rows) < batch or not all(
                _same_point(point, row.params) for point, row in zip(asked, rows, strict=True)
            ):
                log.warning(
                    "the restored optimizer asked for other points than evaluations %d-%d of "
                    "the trace: those are checked again",
                    told,
                    told + batch - 1,
                )
                return state.restored()
            for candidate, row in zip(candidates, rows, strict=True):  # None: failed
                optimizer.tell(
                    candidate, FAILED_LOSS if row.value is None else direction * row.value
                )
            told += batch
        return optimizer

    @staticmethod
    def _pace(optim) -> str:
        workers = min(optim.num_workers, optim.budget)  # never more at once than the budget
        if optim.asynchronous:
            return f"{workers} in flight, each asked as one is told"
        return f"{workers} a batch"

    def _asynchronous_pool(self, optim) -> Any:
        """The pool that keeps the search's evaluations in flight (``asynchronous``, on
        joblib's pool), else None; asked for elsewhere, the search says it runs in batches."""
        from optsweep.engine.search.pool_workers import OnPoolWorkers
        from optsweep.engine.search.slurm_workers import OnSlurmWorkers

        if not optim.asynchronous:
            return None
        if isinstance(self.evaluations, (OnPoolWorkers, OnSlurmWorkers)):
            return self.evaluations
        log.info(
            "optim.asynchronous: evaluations are kept in flight on launcher=local (joblib's "
            "pool) and launcher=slurm only; here the search asks %d points at a time",
            optim.num_workers,
        )
        return None

    def _save(self, state, optimizer, space, *, asked=None, final=False) -> None:
        """The search's files (``SearchState.save``), with nevergrad's recommendation."""
        recommendation = optimizer.provide_recommendation().value
        state.save(
            self.maximize,
            optimizer=optimizer,
            asked=asked,
            recommendation={k: recommendation[k] for k in space},
            final=final,
        )

    def _overrides(self, candidate, space) -> tuple[str, ...]:
        """The overrides of an evaluation: the candidate's point and this run's constants."""
        return tuple(
            f"{k}={candidate.value[k] if k in space else self.constants[k]}" for k in self.order
        )

    def _loop(self, optimizer, state, space, direction) -> None:
        """Ask, launch, tell and save batch after batch until the budget is used."""
        optim = self.opt_config
        while len(state.evaluations) < optim.budget:
            batch = min(optim.num_workers, optim.budget - len(state.evaluations))
            candidates = [optimizer.ask() for _ in range(batch)]
            overrides = [self._overrides(c, space) for c in candidates]
            assert self.evaluations is not None
            evaluated = self.evaluations.evaluate(overrides, self.job_idx)
            self.job_idx += len(evaluated)
            with deferred_stops():  # told and saved whole: the saved state is one batch's
                for candidate, (ret, path) in zip(candidates, evaluated, strict=True):
                    params = {key: candidate.value[key] for key in space}
                    number = len(state.evaluations)
                    state.evaluations.append(evaluation_of(number, params, ret, path))
                    value = state.evaluations[-1].value  # None: failed, or not finite
                    optimizer.tell(candidate, FAILED_LOSS if value is None else direction * value)
                self._save(state, optimizer, space, final=len(state.evaluations) >= optim.budget)
            raise_if_too_many_failed(state, optim.budget, optim.max_failure_rate)


def _same_point(asked: dict, recorded: dict) -> bool:
    """Whether a point the optimizer asked for is the one the trace recorded (as JSON)."""
    return json.loads(json.dumps(asked, sort_keys=True)) == recorded
