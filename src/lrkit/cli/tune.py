"""``lrkit tune TASK``: search the LR of a task with Optuna, resumable and distributed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import click

from lrkit.errors import ConfigError, TuneError

_STRATEGIES = ("auto", "grid", "random", "bayes", "hyperband", "coarse-to-fine")


@click.command(name="tune")
@click.argument("task")
@click.option(
    "--strategy",
    type=click.Choice(_STRATEGIES),
    default="auto",
    show_default=True,
    help="auto: range test, then GP search in its interval; grid/random: log-spaced / "
    "log-uniform; bayes: GP (TPE past 100 trials); hyperband: TPE + Hyperband pruning "
    "over epochs; coarse-to-fine: coarse log grid, then a fine grid around the best.",
)
@click.option(
    "--trials",
    type=int,
    default=20,
    show_default=True,
    help="Total trials of the study, across all workers.",
)
@click.option(
    "--storage",
    default=None,
    help="sqlite:///tune.db or postgresql://user@host/db (default: in memory).",
)
@click.option("--study-name", default=None, help="Default: lrkit-TASK-STRATEGY.")
@click.option(
    "--workers",
    type=int,
    default=1,
    show_default=True,
    help="Local worker processes (needs --storage).",
)
@click.option("--low", type=float, default=1e-6, show_default=True)
@click.option("--high", type=float, default=1.0, show_default=True)
@click.option("--epochs", type=int, default=None, help="Epochs per trial (default: the recipe).")
@click.option("--seed", type=int, default=None, help="Sampler seed (worker i uses seed + i).")
@click.option("--timeout", type=float, default=None, help="Seconds after which no trial starts.")
@click.option(
    "--out",
    type=click.Path(file_okay=False),
    default=".",
    show_default=True,
    help="Folder for the plot (STUDY.png) and the JSON (STUDY.json).",
)
@click.option("--no-progress", is_flag=True, help="No live progress on stderr.")
def command(
    task: str,
    strategy: str,
    trials: int,
    storage: str | None,
    study_name: str | None,
    workers: int,
    low: float,
    high: float,
    epochs: int | None,
    seed: int | None,
    timeout: float | None,
    out: str,
    no_progress: bool,
) -> None:
    """Search the learning rate of TASK (a built-in task or path/to/file.py:factory).

    Re-running the same command with the same --storage resumes the study: completed trials
    are kept, only the missing ones run. Many hosts share one study by running this same
    command with the same --storage postgresql://... and --study-name.
    """
    from lrkit.tune import run_worker
    from lrkit.tune._space import check_bounds

    check_bounds(low, high)  # before the progress bar, so a bad bound is one line
    if trials < 1:
        raise ConfigError(f"--trials must be >= 1, but got trials={trials!r}")
    if workers < 1:
        raise ConfigError(f"--workers must be >= 1, but got workers={workers!r}")
    if workers > 1 and storage is None:
        raise ConfigError(
            "--workers > 1 needs a shared --storage (sqlite:///tune.db or postgresql://...)"
        )
    name = study_name or f"lrkit-{Path(task.split(':')[0]).stem}-{strategy}"
    config: dict[str, Any] = {
        "task": task,
        "strategy": strategy,
        "trials": trials,
        "storage": storage,
        "study_name": name,
        "low": low,
        "high": high,
        "epochs": epochs,
        "seed": seed,
        "timeout": timeout,
    }
    progress = _Progress(enabled=not no_progress, total=trials, name=name)
    try:
        if workers == 1:
            result = run_worker(config, callbacks=[progress.callback])
        else:
            _prepare(config)
            _run_workers(config, workers, progress)
            result = run_worker(config)  # budget met: this only reads the study
    finally:
        progress.close()
    _report(result, Path(out))


def _prepare(config: dict[str, Any]) -> None:
    """Create the schema and the study once (and run the range test) before workers start."""
    from lrkit.tune._api import FINDER_ATTR, _quiet_optuna
    from lrkit.tune._storage import open_storage, open_study

    with _quiet_optuna():
        st = open_storage(config["storage"])
        study = open_study(
            st, config["study_name"], _direction(config), None, None, url=config["storage"]
        )
        if config["strategy"] == "auto" and FINDER_ATTR not in study.user_attrs:
            from lrkit.tasks import get_task
            from lrkit.tune import task_finder

            study.set_user_attr(
                FINDER_ATTR, task_finder(get_task(config["task"]), epochs=config["epochs"])
            )


def _direction(config: dict[str, Any]) -> str:
    from lrkit.tasks import get_task

    return "maximize" if get_task(config["task"]).higher_is_better else "minimize"


def _run_workers(config: dict[str, Any], workers: int, progress: _Progress) -> None:
    procs = []
    for i in range(workers):
        seed = None if config["seed"] is None else config["seed"] + i
        cfg = json.dumps({**config, "seed": seed})
        procs.append(
            subprocess.Popen(
                [sys.executable, "-m", "lrkit.tune", cfg],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
                env=os.environ.copy(),
            )
        )
    try:
        while any(p.poll() is None for p in procs):
            progress.poll(config)
            time.sleep(0.5)
    except BaseException:
        for p in procs:
            if p.poll() is None:
                p.terminate()
        raise
    for p in procs:
        err = p.stderr.read() if p.stderr else ""
        if p.returncode != 0:
            last = err.strip().splitlines()[-1] if err.strip() else f"exit code {p.returncode}"
            raise TuneError(f"worker {p.pid} failed: {last}")


class _Progress:
    """Trials done and best so far, on stderr (rich)."""

    def __init__(self, enabled: bool, total: int, name: str) -> None:
        self._p: Any = None
        self._study: Any = None
        self.total = total
        if enabled:
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
            )

            self._p = Progress(
                TextColumn(f"[bold]tune {name}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.description}"),
                TimeElapsedColumn(),
                console=Console(stderr=True),
            )
            self._p.start()
            self._t = self._p.add_task("", total=total)

    def callback(self, study: Any, _trial: Any) -> None:
        self._show(study)

    def poll(self, config: dict[str, Any]) -> None:
        if self._p is None:
            return
        import optuna

        from lrkit.tune._storage import _driver_url

        if self._study is None:
            try:
                self._study = optuna.load_study(
                    study_name=config["study_name"], storage=_driver_url(config["storage"])
                )
            except Exception:  # the study may not exist yet; progress is best effort
                return
        self._show(self._study)

    def _show(self, study: Any) -> None:
        if self._p is None:
            return
        from lrkit.tune import tally

        trials = study.get_trials(deepcopy=False)
        done, running, _ = tally(trials)
        complete = [t for t in trials if t.state.name == "COMPLETE"]
        desc = f"running {running}"
        if complete:
            pick = max if study.direction.name == "MAXIMIZE" else min
            best = pick(complete, key=lambda t: float(t.value))
            desc = f"best {float(best.value):.4g} at lr={best.params.get('lr', float('nan')):.3g}"
        self._p.update(self._t, completed=min(done, self.total), description=desc)

    def close(self) -> None:
        if self._p is not None:
            self._p.stop()


def _report(result: Any, out: Path) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{result.study_name}: {result.strategy}, {result.direction}")
    for col in ("#", "state", "lr", "value", "cost", "note"):
        table.add_column(col, justify="right" if col in ("#", "lr", "value", "cost") else "left")
    for t in result.trials:
        best = t.state == "complete" and t.value == result.best_value and t.lr == result.best_lr
        table.add_row(
            str(t.number),
            t.state,
            f"{t.lr:.3g}",
            "" if t.value is None else f"{t.value:.4g}",
            "" if t.cost is None else f"{t.cost:.2f}",
            "best"
            if best
            else (t.error or (f"retry of #{t.retry_of}" if t.retry_of is not None else "")),
        )
    console = Console()
    console.print(table)
    summary = f"best lr = {result.best_lr:.4g}  (value {result.best_value:.4g})"
    if result.cost is not None:
        summary += f"; compute {result.cost:.2f} full trainings"
    console.print(summary)
    for note in result.notes:
        console.print(f"note: {note}")
    out.mkdir(parents=True, exist_ok=True)
    json_path = out / f"{result.study_name}.json"
    json_path.write_text(json.dumps(result.to_dict(), indent=2))
    png = out / f"{result.study_name}.png"
    import matplotlib.pyplot as plt

    fig = result.plot(str(png))
    plt.close(fig)
    console.print(f"wrote {png} and {json_path}")
