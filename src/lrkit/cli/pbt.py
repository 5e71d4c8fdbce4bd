"""``lrkit pbt TASK``: population-based training of the LR on a built-in or user task."""

from __future__ import annotations

import math

import click

from lrkit.cli._common import LazyBar, check_device, print_saved, seeded_model, vectorised_options

__all__ = ["command"]


@click.command(name="pbt")
@click.argument("task")
@click.option("--population", type=int, default=16, show_default=True, help="Members K.")
@click.option("--interval", type=int, default=None,
              help="Updates between exploits [default: run / 10].")  # fmt: skip
@click.option("--low", type=float, default=1e-4, show_default=True, help="Lowest LR.")
@click.option("--high", type=float, default=1.0, show_default=True, help="Highest LR.")
@click.option("--quantile", type=float, default=0.25, show_default=True)
@click.option("--perturb", type=(float, float), default=(0.8, 1.25), show_default=True,
              help="The two LR factors of explore.")  # fmt: skip
@click.option("--resample", type=float, default=0.0, show_default=True)
@vectorised_options("member", "the plot (PNG), the result (JSON) and the schedule (TXT)")
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
    from rich.console import Console
    from rich.table import Table

    from lrkit._output import Output
    from lrkit.pbt import pbt
    from lrkit.tasks import get_task

    check_device(device)
    output = Output.prepare(out, plot=not no_plot)
    t = get_task(task)
    opt_name = optimizer or t.optimizer
    metric_name = getattr(t, "metric_name", "metric")

    def best_text(best: float) -> str:
        return "-" if math.isnan(best) else f"best val {metric_name} {best:.4g}"

    # The bar is drawn at the first progress report, after pbt has checked its arguments.
    with LazyBar(f"pbt {t.name} ({opt_name}, K={population})", info=best_text) as bar:
        result = pbt(seeded_model(t, seed), t.train, loss_fn=t.loss_fn, population=population,
                     low=low, high=high, optimizer=opt_name, steps=steps,
                     epochs=t.epochs if steps is None and epochs is None else epochs,
                     interval=interval, quantile=quantile, perturb=perturb, resample=resample,
                     val_data=t.val, metric=t.metric, maximize=t.higher_is_better,
                     batch_size=batch_size or t.batch_size, seed=seed, device=device,
                     dtype=dtype, progress=bar)  # fmt: skip

    copied, replaced = [0] * result.population, [0] * result.population
    for e in result.lineage:
        copied[e.source] += 1
        replaced[e.member] += 1
    table = Table("member", "initial lr", "final lr", f"val {metric_name}", "copied from it",
                  "replaced", "", box=None)  # fmt: skip
    for i in range(result.population):
        best = i == result.best_index
        table.add_row(str(i), f"{result.lrs[i, 0]:.3g}", f"{result.lrs[i, -1]:.3g}",
                      f"{result.metrics[i, -1]:.4g}", str(copied[i]), str(replaced[i]),
                      "best" if best else "", style="bold green" if best else None)  # fmt: skip
    console = Console()
    console.print(table)
    console.print(
        f"[bold]{t.name}[/bold] ({opt_name}): best val {metric_name} = "
        f"[bold green]{result.best_metric:.4g}[/bold green] (member {result.best_index}); "
        f"{len(result.lineage)} exploits every {result.interval} updates; {result.steps} "
        f"updates in {result.wall_time_s:.1f} s ({result.engine})"
    )
    for note in getattr(result, "notes", ()):
        console.print(f"[yellow]note:[/yellow] {note}", soft_wrap=True)
    console.print(
        "discovered schedule (4 significant digits; exact in the TXT file):", style="bold"
    )
    click.echo(result.schedule_text)
    context = {"task": t.name, "metric_name": metric_name}
    texts = {"schedule": repr(result.schedule)}
    print_saved(output.save(f"pbt-{t.name}-{opt_name}", result, context, texts=texts))
