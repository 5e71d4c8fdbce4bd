"""``lrkit tune TASK``: search the LR of a task with Optuna, resumable and distributed."""

from __future__ import annotations

from typing import Any

import click

from lrkit.cli._common import no_plot_option, out_option, print_saved, seed_option

__all__ = ["command"]

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
@click.option("--trials", type=int, default=20, show_default=True,
              help="Total trials of the study, across all workers.")  # fmt: skip
@click.option("--storage", default=None,
              help="sqlite:///tune.db or postgresql://user@host/db (default: in memory).")  # fmt: skip
@click.option("--study-name", default=None, help="Default: lrkit-TASK-STRATEGY.")
@click.option("--workers", type=int, default=1, show_default=True,
              help="Local worker processes (needs --storage).")  # fmt: skip
@click.option("--low", type=float, default=1e-6, show_default=True)
@click.option("--high", type=float, default=1.0, show_default=True)
@click.option("--epochs", type=int, default=None, help="Epochs per trial (default: the recipe).")
@seed_option(None, help="Sampler seed (worker i uses seed + i).")
@click.option("--timeout", type=float, default=None, help="Seconds after which no trial starts.")
@out_option("the plot (STUDY.png) and the result (STUDY.json)")
@no_plot_option
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
    no_plot: bool,
    no_progress: bool,
) -> None:
    """Search the learning rate of TASK (a built-in task or path/to/file.py:factory).

    Prints one row per trial: its LR, its value (the task's validation metric after the
    trial's epochs, e.g. accuracy: higher is better) and its cost (the trial's compute in
    full trainings of the recipe). Re-running the same command with the same --storage
    resumes the study: completed trials are kept, only the missing ones run. Many hosts share
    one study by running this same command with the same --storage postgresql://... and
    --study-name.
    """
    from lrkit._output import Output
    from lrkit.tune import WorkerConfig, run_local

    config = WorkerConfig(task=task, strategy=strategy, trials=trials, storage=storage,
                          study_name=study_name, low=low, high=high, epochs=epochs, seed=seed,
                          timeout=timeout)  # fmt: skip
    output = Output.prepare(out, plot=not no_plot)
    result = run_local(config, workers=workers, progress=not no_progress)
    _report(result)
    print_saved(output.save(result.study_name, result))


def _report(result: Any) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{result.study_name}: {result.strategy}, {result.direction}")
    for col in ("#", "state", "lr", "value", "cost", "note"):
        table.add_column(col, justify="right" if col in ("#", "lr", "value", "cost") else "left")
    for t in result.trials:
        best = t.state == "complete" and t.value == result.best_value and t.lr == result.best_lr
        retry = f"retry of #{t.retry_of}" if t.retry_of is not None else ""
        table.add_row(str(t.number), t.state, f"{t.lr:.3g}",
                      "" if t.value is None else f"{t.value:.4g}",
                      "" if t.cost is None else f"{t.cost:.2f}",
                      "best" if best else (t.error or retry))  # fmt: skip
    console = Console()
    console.print(table)
    goal = "higher" if result.direction == "maximize" else "lower"
    console.print(
        f"value: the objective ({goal} is better); cost: compute in full trainings of the recipe",
        style="dim",
    )
    summary = f"best lr = {result.best_lr:.4g}  (value {result.best_value:.4g})"
    if result.cost is not None:
        summary += f"; compute {result.cost:.2f} full trainings"
    console.print(summary)
    for note in result.notes:
        console.print(f"note: {note}")
