"""The search loop behind ``hydra/sweeper=optuna`` and a search file's ``optuna:`` block.

An Optuna study driven by ask and tell, batch after batch, each batch's trials launched
together through Hydra's launcher (each a normal checked job writing its result file), as the
nevergrad search does. Compared with hydra-optuna-sweeper 1.4.0rc3, whose translation of the
override grammar into Optuna distributions it reuses:
- the study lives in a real storage (``optsweep.engine.search.optuna_storage``: SQLite in the
  search's directory by default), under a name derived from the search's definition;
- rerunning the same search resumes its study: finished trials (COMPLETE or FAIL) are never
  run again, and a trial a stopped run left RUNNING is evaluated (again) with the parameters
  it holds, under its own number (its user attribute ``resumed`` says so);
- each trial is drawn by a sampler made for it, seeded from the seed and the trial's number
  (``OptunaDefinition.sampler_for``): the same definition gives the same trials, resumed or
  not, whatever the batch size;
- failed and non-finite evaluations are told FAIL (their error in the trial's user attribute
  ``error``) and tolerated up to ``max_failure_rate`` of the whole search (upstream: of each
  batch); past that, or if nothing succeeded, the search exits non-zero with no best point;
- the direction is the experiment's, declared once; the definition is checked before any
  evaluation, naming each key that means nothing;
- the trace, progress and tuned settings files are the nevergrad search's
  (``optsweep.engine.search.state``), rewritten from the study at a batch's end at most
  every second, and when the search ends or stops.
"""

import logging
from pathlib import Path
from typing import Any

from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.plugins import Plugins
from hydra.errors import OverrideParseException
from hydra.plugins.sweeper import Sweeper
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig

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
from optsweep.engine.search.errors import SearchRefused
from optsweep.engine.search.evaluations import evaluation_of
from optsweep.engine.search.launching import Evaluations, evaluations_for
from optsweep.engine.search.optuna_definition import OptunaDefinition
from optsweep.engine.search.optuna_in_flight import TrialsInFlight
from optsweep.engine.search.optuna_storage import (
    StudyPlace,
    place_of,
    storage_forms,
    study_name,
)
from optsweep.engine.search.optuna_trials import (
    evaluations_of,
    reopened,
    tell,
    trial_overrides,
)
from optsweep.engine.search.optuna_workers import AsynchronousTrials, StudyWork
from optsweep.engine.search.outcome import (
    best_or_fail,
    print_dry_run,
    raise_if_too_many_failed,
    report_best,
    stopping_says_so,
)
from optsweep.engine.search.ranges import unsearchable as unsearchable_range
from optsweep.engine.search.slurm_workers import OnSlurmWorkers
from optsweep.engine.search.state import Evaluation, SearchState, search_id, seed_said
from optsweep.engine.store import ResultStore, identifying_overrides

log = logging.getLogger(__name__)

SEARCHABLE = (
    "a search dimension is interval(...), tag(log, interval(...)), int(interval(...)), "
    "choice(...) or range(...); anything else a plain value"
)


class OptunaSearch(Sweeper):
    """An Optuna search (see the module docstring); ``hydra_plugins.optsweep_sweeper`` holds
    the thin plugin class of ``hydra/sweeper=optuna``, ``optsweep.engine.sweep`` runs a search
    file's."""

    def __init__(
        self,
        definition: OptunaDefinition,
        params: Any = None,
        params_key: str = "hydra.sweeper.params",
        state_dir: str | None = None,
        search_name: str | None = None,
        tunes_settings: str | None = None,
    ):
        """``params``: the search space, {key: override value}; ``params_key``: where it is
        configured (for messages); ``state_dir``: trace, progress and the default storage
        (None: ``<sweep dir>/search``); ``search_name``, ``tunes_settings``: the experiment
        tree's search and the settings file it tunes."""
        self.definition = definition
        self.params = dict(params or {})
        self.params_key = params_key
        self.state_dir, self.search_name = state_dir, search_name
        self.tunes_settings = tunes_settings
        self.config: DictConfig | None = None
        self.hydra_context: HydraContext | None = None
        self.launcher: Any = None
        self.store: ResultStore | None = None
        self.experiment: Any = None
        self.objective = "the task's value"
        self.dry_run = False  # hydra.sweeper.dry_run of the experiment tree: say, run nothing
        self.maximize = definition.direction == "maximize"
        self.job_idx = 0
        self.task_function: TaskFunction | None = None
        self.evaluations: Evaluations | None = None
        self.next_number = 0

    def setup(
        self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig
    ) -> None:
        self.config, self.hydra_context = config, hydra_context
        self.task_function = task_function
        self.launcher = Plugins.instance().instantiate_launcher(
            config=config, hydra_context=hydra_context, task_function=task_function
        )
        task = experiment_of(task_function)
        if task is not None:
            self.experiment = task.experiment
            self.store = ResultStore(task.experiment)
            self.objective = task.experiment.objective or "the task's value"

    # -- the definition, checked ------------------------------------------------------------

    def _checked(self, arguments: list[str], directory: Path):
        """The search space ({key: distribution}), the overrides every job gets, every
        configured line, and the study's place; ``SearchRefused`` naming every key that
        means nothing, before anything is evaluated."""
        refusals = self.definition.refusals()
        refusals += self._direction_refusals()
        place = place_of(self.definition.storage, directory)
        if place is None:
            refusals.append(
                f"{self.definition.key('storage')}={self.definition.storage}: "
                f"{storage_forms(directory)}"
            )
        space, fixed, lines = self._space(arguments, refusals)
        assert self.config is not None
        unread = unread_keys(self.config, self.experiment) if self.experiment else None
        if unread is not None:
            refusals.append(f"the config of search={self.search_name}: {unread}")
        if not space and not refusals:
            refusals.append(
                f"{self.params_key}: no search space: give it parameters to search ({SEARCHABLE})"
            )
        if refusals:
            raise SearchRefused("search refused before any evaluation:\n  " + "\n  ".join(refusals))
        assert place is not None
        return space, fixed, lines, place

    def _direction_refusals(self) -> list[str]:
        """The experiment declares the direction once; a definition saying otherwise is
        refused (a plain Hydra app's direction is the definition's, minimize if unsaid)."""
        stated = self.definition.direction
        if self.experiment is None:
            self.maximize = stated == "maximize"
            return []
        self.maximize = self.experiment.maximize
        if stated in ("minimize", "maximize") and stated != self.experiment.direction:
            key = self.definition.key("direction")
            return [
                f"{key}={stated}, but experiment {self.experiment.name!r} declares "
                f"direction={self.experiment.direction!r}; declare the direction once, in "
                f"Experiment(direction=...), and drop {key}"
            ]
        return []

    def _space(self, arguments: list[str], refusals: list[str]):
        """As hydra-optuna-sweeper: the configured params, then the command line's overrides
        (a sweep: a search dimension; a plain value or a deletion: the same for every job).
        A line that cannot be read is added to ``refusals``, naming its key."""
        from optuna.distributions import BaseDistribution

        parser = OverridesParser.create()
        configured = [(f"{self.params_key}.{k}", f"{k}={v}") for k, v in self.params.items()]
        given = configured + [(line, line) for line in arguments]
        space: dict[str, BaseDistribution] = {}
        fixed: dict[str, str] = {}
        parsed: list = []  # (origin, line, override) of every line that can be searched
        for origin, line in given:
            try:
                (override,) = parser.parse_overrides([line])
            except OverrideParseException as error:
                said = str(error).strip().splitlines()
                refusals.append(f"{origin}: {line!r} is not Hydra's override grammar: {said[0]}")
                continue
            unsearchable = unsearchable_range(override)
            if unsearchable is not None:
                refusals.append(f"{origin}: {line!r} cannot be searched ({unsearchable})")
                continue
            try:
                made = None if override.is_delete() else internals.optuna_distribution(override)
            except Exception as error:
                said = str(error).strip().splitlines()
                why = f"{type(error).__name__}: {said[0]}" if said else type(error).__name__
                refusals.append(f"{origin}: {line!r} cannot be searched ({why}); {SEARCHABLE}")
                continue
            parsed.append((origin, line, override))
            key = override.get_key_element()
            space.pop(key, None)
            fixed.pop(key, None)
            if isinstance(made, BaseDistribution):
                space[key] = made
            else:
                fixed[key] = line if made is None else f"{key}={made}"
        assert self.config is not None
        searched = [o for _, _, o in parsed]
        for found in (
            absent_keys(searched, self.config),
            mapped_keys(searched, self.config, self.experiment),
        ):
            for position, why in found.items():
                origin, line, _ = parsed[position]
                refusals.append(f"{origin}: {line!r} cannot be searched ({why})")
        set_keys = set(space) | {k for k, line in fixed.items() if not line.endswith("=???")}
        missing = missing_values(self.config, set_keys)
        if missing is not None:
            refusals.append(f"the config of search={self.search_name}: {missing}")
        return space, list(fixed.values()), [line for _, line in given]

    def _definition(self, lines: list[str]) -> dict:
        d = self.definition
        assert self.config is not None
        return {
            "optimizer": f"optuna {d.sampler_name}",
            "sampler": d.sampler,
            "sampler_options": d.sampler_options,
            "seed": d.seed,
            "budget": d.n_trials,
            "num_workers": d.batch,
            # Only when set: the studies of batched searches keep the ids they had before.
            **({"asynchronous": True} if d.asynchronous else {}),
            "maximize": self.maximize,
            "space": identifying_overrides(lines),
            **runs_on(self.config, self.store),
        }

    # -- the search -------------------------------------------------------------------------

    def sweep(self, arguments: list[str]) -> None:
        assert self.config is not None
        d = self.definition
        directory = Path(self.state_dir or Path(self.config.hydra.sweep.dir) / "search")
        space, fixed, lines, place = self._checked(arguments, directory)
        definition = self._definition(lines)
        # The budget is left out: a larger n_trials continues the same study.
        identity = search_id({k: v for k, v in definition.items() if k != "budget"})
        name = study_name(self.search_name or d.study_prefix, identity)
        state = SearchState(directory, definition, identity=identity)
        state.logs = str(self.config.hydra.sweep.dir)
        state.library = "optuna"
        if self.dry_run:
            seed = seed_said(d.seed)
            what = f"optuna {d.sampler_name}, {self._pace()}, seed {seed}, study {name}"
            print_dry_run(self.search_name, what, state.saved_count(), d.n_trials, directory)
            return
        directory.mkdir(parents=True, exist_ok=True)
        with job_lock(directory / "study", "this search"):  # one process runs it at a time
            state.take_directory()
            study = self._study(place, name, definition)
            study_info = {"name": name, **place.for_people()}
            trials = study.get_trials(deepcopy=False)
            state.evaluations = evaluations_of(trials, space)
            left_running = [t for t in trials if t.state.name == "RUNNING"]
            self._say_start(state, directory, name, place, len(left_running))
            raise_if_too_many_failed(state, d.n_trials, d.max_failure_rate, resumed=True)
            state.save(self.maximize, study=study_info)
            self.job_idx = len(state.evaluations)
            self.next_number = len(trials)  # the study's next trial: this process its only writer
            assert self.hydra_context is not None and self.task_function is not None
            self.evaluations = evaluations_for(
                self, self.launcher, self.hydra_context, self.task_function, self.config, d.batch
            )
            with (
                ProgressReport(self.config.hydra.sweep.dir, max(0, d.n_trials - self.job_idx)),
                stopping_says_so(state, d.n_trials, self.evaluations),
            ):
                pool = self._asynchronous_pool()
                save = lambda: state.save(self.maximize, study=study_info)  # noqa: E731
                if isinstance(pool, OnSlurmWorkers):  # this process asks and tells
                    pool.compose_template(tuple(fixed), self.job_idx)
                    ask = lambda: self._asked(study, space)  # noqa: E731
                    flying = TrialsInFlight(pool, study, state, d, space, tuple(fixed), ask)
                    self.job_idx = flying.run(left_running, self.job_idx, save)
                    state.save(self.maximize, study=study_info, final=True)
                elif pool is not None:  # the pool's workers ask and tell
                    work = StudyWork(place, name, d, space, tuple(fixed))
                    pool.compose_template(work.fixed, self.job_idx)
                    trials = AsynchronousTrials(pool, work, study, state)
                    numbers = [t.number for t in left_running]
                    self.job_idx = trials.run(numbers, self.next_number, self.job_idx, save)
                    state.save(self.maximize, study=study_info, final=True)
                while pool is None and len(state.evaluations) < d.n_trials:
                    size = min(d.batch, d.n_trials - len(state.evaluations))
                    batch = [reopened(study, t, space, d) for t in left_running[:size]]
                    left_running = left_running[size:]
                    batch += [self._asked(study, space) for _ in range(size - len(batch))]
                    self._evaluate(study, batch, space, fixed, state, study_info)
                    raise_if_too_many_failed(state, d.n_trials, d.max_failure_rate)
        best = best_or_fail(state, self.maximize, d.max_failure_rate)
        report_best(
            state,
            best,
            optimizer="optuna",
            sweep_dir=self.config.hydra.sweep.dir,
            maximize=self.maximize,
            objective=self.objective,
            search_name=self.search_name,
            tunes_settings=self.tunes_settings,
            fixed=fixed_keys(self.config, self.search_name, self.store, best.params),
        )
        log.info("Best parameters: %s", " ".join(f"{k}={v}" for k, v in best.params.items()))

    def _pace(self) -> str:
        d = self.definition
        batch = min(d.batch, d.n_trials)  # never more at once than the budget
        if d.asynchronous and internals.is_slurm_launcher(self.launcher):
            return f"{batch} in flight, each asked as one is told"
        if d.asynchronous:
            return f"{batch} in flight, asked and told by the workers"
        return f"{batch} a batch"

    def _asynchronous_pool(self) -> Any:
        """Where the trials stay in flight (``asynchronous``): joblib's pool, whose workers
        ask and tell them, or the SLURM workers, for which this process asks and tells;
        else None: in this process the search says it runs in batches."""
        from optsweep.engine.search.pool_workers import OnPoolWorkers

        if not self.definition.asynchronous:
            return None
        if isinstance(self.evaluations, (OnPoolWorkers, OnSlurmWorkers)):
            return self.evaluations
        log.info(
            "%s: trials are kept in flight on launcher=local (joblib's pool) and "
            "launcher=slurm only; here the search asks %d trials at a time",
            self.definition.key("asynchronous"),
            self.definition.batch,
        )
        return None

    def _study(self, place: StudyPlace, name: str, definition: dict) -> Any:
        """The study ``name`` in its storage, created if new; its definition recorded in its
        user attribute ``optsweep``."""
        import optuna

        # Optuna's own log lines ("A new study created ...") go through Hydra's logging.
        optuna.logging.disable_default_handler()
        optuna.logging.enable_propagation()
        try:
            storage = place.open()
        except Exception as error:
            raise SearchRefused(
                f"search refused before any evaluation:\n  {self.definition.key('storage')}: "
                f"{place.url} cannot be opened: {type(error).__name__}: {error}"
            ) from error
        study = optuna.create_study(
            storage=storage,
            study_name=name,
            sampler=self.definition.sampler_for(0),
            direction="maximize" if self.maximize else "minimize",
            load_if_exists=True,
        )
        study.set_user_attr("optsweep", definition)
        return study

    def _say_start(
        self, state: SearchState, directory: Path, name: str, place: StudyPlace, running: int
    ) -> None:
        d = self.definition
        where = f"study {name} in {place.url}"
        if not state.evaluations and not running:
            log.info(
                "Search optuna %s %s %s, %d trials, %s, seed %s: %s (%s)",
                d.sampler_name,
                "maximizing" if self.maximize else "minimizing",
                self.objective,
                d.n_trials,
                self._pace(),
                seed_said(d.seed),
                directory,
                where,
            )
            return
        again = (
            f"; {running} trials left running by a stopped search are evaluated again"
            if running
            else ""
        )
        log.info(
            "Resuming the search in %s: %d of %d evaluations done (%s)%s",
            directory,
            len(state.evaluations),
            d.n_trials,
            where,
            again,
        )

    def _asked(self, study: Any, space: dict) -> Any:
        """A new trial, drawn by the sampler made for its number (counted here, where a read
        of every trial would cost ~10 ms: the search's lock keeps other writers out)."""
        study.sampler = self.definition.sampler_for(self.next_number)
        trial = study.ask(fixed_distributions=space)
        self.next_number = trial.number + 1
        return trial

    def _evaluate(
        self,
        study: Any,
        batch: list,
        space: dict,
        fixed: list[str],
        state: SearchState,
        study_info: dict,
    ) -> None:
        """Evaluate the batch's trials together, then tell each its value or its failure and
        save the search's files."""
        overrides = [trial_overrides(trial, space, tuple(fixed)) for trial in batch]
        assert self.evaluations is not None
        evaluated = self.evaluations.evaluate(overrides, self.job_idx)
        self.job_idx += len(evaluated)
        with deferred_stops():  # told and saved whole: the files say what the study holds
            told = self._tell(study, batch, space, evaluated)
            # What ``evaluations_of`` would read back from the study, without reading it all.
            state.evaluations = sorted(state.evaluations + told, key=lambda e: e.number)
            final = len(state.evaluations) >= self.definition.n_trials
            state.save(self.maximize, study=study_info, final=final)

    def _tell(self, study: Any, batch: list, space: dict, evaluated: list) -> list[Evaluation]:
        """Tell each trial of the batch its value or its failure; their evaluations."""
        told = []
        for trial, (ret, path) in zip(batch, evaluated, strict=True):
            params = {k: trial.params[k] for k in space}
            told.append(evaluation_of(trial.number, params, ret, path))
            tell(study, trial, told[-1], self.definition)
        return told
