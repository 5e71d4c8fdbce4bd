"""``lrkit pbt TASK``: population-based training of the LR on a built-in or user task."""

from __future__ import annotations

import json
import math
from pathlib import Path

import click

from lrkit.optim import OPTIMIZERS

__all__ = ["command"]


@click.command(name="pbt")
@click.argument("task")
@click.option("--population", type=int, default=16, show_default=True, help="Members K.")
@click.option(
    "--interval", type=int, default=None, help="Updates between exploits [default: run / 10]."
)
@click.option(
    "--optimizer",
    type=click.Choice(OPTIMIZERS),
    default=None,
    help="Optimizer [default: the task's recipe].",
)
@click.option("--low", type=float, default=1e-4, show_default=True, help="Lowest LR.")
@click.option("--high", type=float, default=1.0, show_default=True, help="Highest LR.")
@click.option("--quantile", type=float, default=0.25, show_default=True)
@click.option(
    "--perturb",
    type=(float, float),
    default=(0.8, 1.25),
    show_default=True,
    help="The two LR factors of explore.",
)
@click.option("--resample", type=float, default=0.0, show_default=True)
@click.option("--steps", type=int, default=None, help="Updates per member (instead of --epochs).")
@click.option("--epochs", type=int, default=None, help="Epochs [default: the task's recipe].")
@click.option("--batch-size", type=int, default=None, help="[default: the task's recipe]")
@click.option("--device", default=None, help="cpu, cuda, cuda:1, ... [default: cpu]")
@click.option(
    "--dtype", type=click.Choice(["float32", "float64"]), default="float32", show_default=True
)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option(
    "--out",
    type=click.Path(file_okay=False),
    default="lrkit-out",
    show_default=True,
    help="Folder for the plot (PNG), the result (JSON) and the schedule (TXT).",
)
@click.option("--no-plot", is_flag=True, help="Skip the PNG (no matplotlib needed).")
def command(
    task: str,
    population: int,
    interval: int | None,
    optimizer: str | None,
    low: float,
    high: float,
    quantile: float,
    perturb: tuple[float, float],
    resample: float,
    steps: int | None,
    epochs: int | None,
    batch_size: int | None,
    device: str | None,
    dtype: str,
    seed: int,
    out: str,
    no_plot: bool,
) -> None:
    """Population-based training of the LR on TASK (a built-in name or path/file.py:factory).

    K members train at once from the same weights on the same batches; every --interval
    updates the worst copy the weights and optimizer state of the best (ranked on the task's
    validation set) and perturb their LR. Prints a table and the discovered schedule (text
    that `lrkit plot` and lrkit.schedules.parse accept); saves PNG, JSON and TXT to --out.
    """
    import torch
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn
    from rich.table import Table

    from lrkit.pbt import pbt
    from lrkit.pbt._api import check_arguments
    from lrkit.tasks import get_task

    t = get_task(task)
    opt_name = optimizer or t.optimizer
    if steps is None and epochs is None:
        epochs = t.epochs
    # Fail before the progress bar is drawn, so an error stays one line.
    check_arguments(population, low, high, opt_name, quantile, perturb, resample, "grid",
                    steps, epochs, interval)  # fmt: skip
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = t.make_model()
    metric_name = getattr(t, "metric_name", "metric")

    err = Console(stderr=True)
    progress = Progress(
        TextColumn(f"pbt {t.name} ({opt_name}, K={population})"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TextColumn("best {task.fields[best]}"),
        TimeRemainingColumn(),
        console=err,
        transient=True,
    )
    with progress:
        bar = progress.add_task("pbt", total=1.0, best="-")

        def report(done: int, total: int, best: float) -> None:
            text = "-" if math.isnan(best) else f"val {metric_name} {best:.4g}"
            progress.update(bar, completed=done / total, best=text)

        result = pbt(
            model,
            t.train,
            loss_fn=t.loss_fn,
            population=population,
            low=low,
            high=high,
            optimizer=opt_name,
            steps=steps,
            epochs=epochs,
            interval=interval,
            quantile=quantile,
            perturb=perturb,
            resample=resample,
            val_data=t.val,
            metric=t.metric,
            maximize=t.higher_is_better,
            batch_size=batch_size or t.batch_size,
            seed=seed,
            device=device,
            dtype=dtype,
            progress=report,
        )

    console = Console()
    copied = [0] * result.population
    for e in result.lineage:
        copied[e.source] += 1
    table = Table("member", "initial lr", "final lr", f"val {metric_name}", "copied from it",
                  "replaced", "", box=None)  # fmt: skip
    replaced = [0] * result.population
    for e in result.lineage:
        replaced[e.member] += 1
    for i in range(result.population):
        best = i == result.best_index
        table.add_row(
            str(i),
            f"{result.lrs[i, 0]:.3g}",
            f"{result.lrs[i, -1]:.3g}",
            f"{result.metrics[i, -1]:.4g}",
            str(copied[i]),
            str(replaced[i]),
            "best" if best else "",
            style="bold green" if best else None,
        )
    console.print(table)
    console.print(
        f"[bold]{t.name}[/bold] ({opt_name}): best val {metric_name} = "
        f"[bold green]{result.best_metric:.4g}[/bold green] (member {result.best_index}); "
        f"{len(result.lineage)} exploits every {result.interval} updates; {result.steps} "
        f"updates in {result.wall_time_s:.1f} s ({result.engine})"
    )
    console.print("discovered schedule:", style="bold")
    click.echo(repr(result.schedule))

    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    stem = f"pbt-{t.name}-{opt_name}"
    payload = {"task": t.name, "metric_name": metric_name, **result.to_dict()}
    json_path = folder / f"{stem}.json"
    json_path.write_text(json.dumps(payload, indent=1, allow_nan=False))
    txt_path = folder / f"{stem}-schedule.txt"
    txt_path.write_text(repr(result.schedule) + "\n")
    console.print(f"saved {json_path}\nsaved {txt_path}")
    if not no_plot:
        from lrkit.errors import require

        require("matplotlib", "plot")
        png = folder / f"{stem}.png"
        fig = result.plot(str(png))
        import matplotlib.pyplot as plt

        plt.close(fig)
        console.print(f"saved {png}")
