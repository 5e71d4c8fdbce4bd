"""``lrkit find TASK``: LR range test on a built-in or user task."""

from __future__ import annotations

import re

import click

from lrkit.cli._common import no_plot_option, optimizer_option, out_option, print_saved, seed_option

__all__ = ["cli_note", "command"]


def cli_note(note: str) -> str:
    """A finder note as a command-line user reads it: keyword ``(steps=)`` becomes ``(--steps)``.

    >>> cli_note("run more steps (steps=), or search (e.g. lrkit.tune)")
    'run more steps (--steps), or search (e.g. lrkit tune)'
    """
    note = re.sub(r"\((\w+)=\)", lambda m: f"(--{m.group(1).replace('_', '-')})", note)
    return note.replace("lrkit.tune", "lrkit tune")


@click.command(name="find")
@click.argument("task")
@optimizer_option("Optimizer to test")
@out_option("the plot (PNG) and the result (JSON)")
@click.option("--start-lr", type=float, default=1e-7, show_default=True)
@click.option("--end-lr", type=float, default=10.0, show_default=True)
@click.option("--steps", type=int, default=100, show_default=True)
@click.option("--mode", type=click.Choice(["exp", "linear"]), default="exp", show_default=True)
@click.option(
    "--method",
    type=click.Choice(["auto", "lrkit", "steepest", "minimum", "valley"]),
    default="auto",
    show_default=True,
)
@click.option(
    "--repeats",
    type=int,
    default=3,
    show_default=True,
    help="Sweeps to combine (median curve); 3 cut the worst-case regret in our benchmark.",
)
@seed_option()
@click.option("--regime", type=click.Choice(["auto", "scratch", "finetune"]), default="auto",
              show_default=True, help="auto: a pretrained model (read off its weights) gets the "
              "fine-tuning rule; finetune: always; scratch: never.")  # fmt: skip
@click.option("--val-data/--no-val-data", "val", default=True, show_default=True,
              help="Fine-tuning rule: score short trials on the task's validation split "
              "(--no-val-data: on held-out training samples, weaker).")  # fmt: skip
@click.option("--metric/--no-metric", "metric", default=True, show_default=True,
              help="Fine-tuning rule: score the trials on the task's metric (e.g. accuracy) "
              "instead of its validation loss.")  # fmt: skip
@click.option("--trial-steps", type=int, default=None,
              help="Updates per fine-tuning trial (default 40; 0: none, the fitted minimum / 10).")  # fmt: skip
@no_plot_option
def command(
    task: str,
    optimizer: str | None,
    out: str,
    start_lr: float,
    end_lr: float,
    steps: int,
    mode: str,
    method: str,
    repeats: int,
    seed: int,
    regime: str,
    val: bool,
    metric: bool,
    trial_steps: int | None,
    no_plot: bool,
) -> None:
    """Run an LR range test on TASK (a built-in name or path/to/file.py:factory).

    Prints the suggested LR and a plausible interval, and saves the plot and JSON to --out.
    """
    from rich.console import Console
    from rich.table import Table

    from lrkit._output import Output
    from lrkit.finder import find_lr_on_task
    from lrkit.tasks import get_task

    output = Output.prepare(out, plot=not no_plot)
    t = get_task(task)
    opt_name = optimizer or t.optimizer
    result = find_lr_on_task(t, opt_name, seed=seed, quiet=True, start_lr=start_lr, end_lr=end_lr,
                             steps=steps, mode=mode, method=method, repeats=repeats,
                             progress=True, regime=regime, val=val, metric=metric,
                             trial_steps=trial_steps)  # fmt: skip

    console = Console()
    low, high = result.interval
    console.print(
        f"[bold]{t.name}[/bold] ({opt_name}): suggested lr = [bold green]{result.suggestion:.3g}"
        f"[/bold green]  interval = [{low:.3g}, {high:.3g}]  (method: {result.method})"
    )
    table = Table("method", "lr", box=None)
    for name, lr in result.suggestions.items():
        table.add_row(name, f"{lr:.3g}")
    console.print(table)
    if result.diverged_at is not None:
        console.print(f"loss diverged at lr = {result.diverged_at:.3g}")
    for note in result.notes:
        console.print(f"[yellow]note:[/yellow] {cli_note(note)}", soft_wrap=True)
    context = {"task": t.name, "optimizer": opt_name, "seed": seed}
    print_saved(output.save(f"find-{t.name}-{opt_name}", result, context))
