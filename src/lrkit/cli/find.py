"""``lrkit find TASK``: LR range test on a built-in or user task."""

from __future__ import annotations

import json
from pathlib import Path

import click

from lrkit.tasks._optim import OPTIMIZERS

__all__ = ["command"]


@click.command(name="find")
@click.argument("task")
@click.option(
    "--optimizer",
    type=click.Choice(OPTIMIZERS),
    default=None,
    help="Optimizer to test [default: the task's recipe].",
)
@click.option(
    "--out",
    type=click.Path(file_okay=False),
    default="lrkit-out",
    show_default=True,
    help="Folder for the plot (PNG) and the result (JSON).",
)
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
@click.option("--seed", type=int, default=0, show_default=True)
@click.option(
    "--regime",
    type=click.Choice(["auto", "scratch", "finetune"]),
    default="auto",
    show_default=True,
    help="auto: a pretrained model (read off its weights) gets the fine-tuning rule (fitted "
    "minimum / 10 instead of / 3); finetune: always; scratch: never.",
)
@click.option("--no-plot", is_flag=True, help="Skip the PNG (no matplotlib needed).")
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
    no_plot: bool,
) -> None:
    """Run an LR range test on TASK (a built-in name or path/to/file.py:factory).

    Prints the suggested LR and a plausible interval, and saves the plot and JSON to --out.
    """
    from rich.console import Console
    from rich.table import Table

    from lrkit.finder import find_lr_on_task
    from lrkit.tasks import get_task

    t = get_task(task)
    opt_name = optimizer or t.optimizer
    result = find_lr_on_task(
        t,
        opt_name,
        seed=seed,
        quiet=True,  # the notes are printed below
        start_lr=start_lr,
        end_lr=end_lr,
        steps=steps,
        mode=mode,
        method=method,
        repeats=repeats,
        progress=True,
        regime=regime,
    )

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
        console.print(f"[yellow]note:[/yellow] {note}", soft_wrap=True)

    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    stem = f"find-{t.name}-{opt_name}"
    payload = {"task": t.name, "optimizer": opt_name, "seed": seed, **result.to_dict()}
    json_path = folder / f"{stem}.json"
    json_path.write_text(json.dumps(payload, indent=1))
    console.print(f"saved {json_path}")
    if not no_plot:
        from lrkit.errors import require

        require("matplotlib", "plot")
        png = folder / f"{stem}.png"
        fig = result.plot(str(png))
        import matplotlib.pyplot as plt

        plt.close(fig)
        console.print(f"saved {png}")
