"""``lrkit sweep TASK``: K learning rates trained at once on a built-in or user task."""

from __future__ import annotations

import math

import click

from lrkit.cli._common import LazyBar, check_device, print_saved, seeded_model, vectorised_options
from lrkit.errors import ConfigError

__all__ = ["command", "parse_lrs"]


def parse_lrs(text: str) -> list[float]:
    """``"LO:HI:K"`` (K log-spaced values, ends included) or a comma list ``"1e-3,1e-2"``.

    >>> parse_lrs("1e-3:1e-1:3")
    [0.001, 0.01, 0.1]
    >>> parse_lrs("0.1, 0.3")
    [0.1, 0.3]
    """
    import numpy as np

    text = text.strip()
    try:
        if ":" in text:
            lo_s, hi_s, k_s = text.split(":")
            lo, hi, k = float(lo_s), float(hi_s), int(k_s)
            if not (0 < lo <= hi and math.isfinite(hi) and k >= 1):
                raise ValueError
            values = np.geomspace(lo, hi, k) if k > 1 else np.array([lo])
            return [float(f"{v:.12g}") for v in values]
        values_list = [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise ConfigError(
            f"--lrs must be LO:HI:K with 0 < LO <= HI and K >= 1, or a comma list, but got {text!r}"
        ) from None
    if not values_list:
        raise ConfigError(f"--lrs must hold at least one learning rate, but got {text!r}")
    return values_list


@click.command(name="sweep")
@click.argument("task")
@click.option("--lrs", default="1e-4:1:32", show_default=True,
              help="LO:HI:K (K log-spaced LRs) or a comma list.")  # fmt: skip
@click.option("--schedule", default=None,
              help="Schedule shape, e.g. 'cosine(lr=1, steps=1000)': copy i uses lr_i*s(k)/s(0).")  # fmt: skip
@click.option("--momentum", type=float, default=0.9, show_default=True)
@click.option("--weight-decay", type=float, default=None,
              help="[default: torch's: 0, or 0.01 for adamw]")  # fmt: skip
@click.option("--chunk", type=int, default=None,
              help="Copies trained at once [default: from a memory estimate].")  # fmt: skip
@vectorised_options("copy", "the plot (PNG) and the result (JSON)")
def command(
    task: str,
    lrs: str,
    optimizer: str | None,
    steps: int | None,
    epochs: int | None,
    batch_size: int | None,
    schedule: str | None,
    momentum: float,
    weight_decay: float | None,
    device: str | None,
    dtype: str,
    chunk: int | None,
    seed: int,
    out: str,
    no_plot: bool,
) -> None:
    """Train TASK (a built-in name or path/to/file.py:factory) at K learning rates at once.

    Every copy starts from the same weights and sees the same batches. Prints a table of the
    final scores, the best LR, and saves the curves (PNG) and the result (JSON) to --out.
    """
    from rich.console import Console
    from rich.table import Table

    from lrkit._output import Output
    from lrkit.schedules import parse
    from lrkit.sweep import sweep
    from lrkit.tasks import get_task

    lr_values = parse_lrs(lrs)
    sched = None if schedule is None else parse(schedule)
    check_device(device)
    output = Output.prepare(out, plot=not no_plot)
    t = get_task(task)
    opt_name = optimizer or t.optimizer
    with LazyBar(f"sweep {t.name} ({opt_name}, K={len(lr_values)})") as bar:
        result = sweep(seeded_model(t, seed), t.train, loss_fn=t.loss_fn, lrs=lr_values,
                       optimizer=opt_name, steps=steps,
                       epochs=t.epochs if steps is None and epochs is None else epochs,
                       momentum=momentum, weight_decay=weight_decay, schedule=sched,
                       val_data=t.val, metric=t.metric, maximize=t.higher_is_better, dtype=dtype,
                       device=device, chunk=chunk, seed=seed,
                       batch_size=batch_size or t.batch_size, progress=bar)  # fmt: skip

    metric_name = getattr(t, "metric_name", "metric")
    table = Table("lr", "final train loss", "val loss", f"val {metric_name}", "", box=None)
    tail = max(1, result.steps // 10)
    for i, lr in enumerate(result.lrs):
        vl = result.val_loss[i, -1] if result.val_loss is not None else math.nan
        vm = result.val_metric[i, -1] if result.val_metric is not None else math.nan
        best, failed = i == result.best_index, bool(result.failed[i])
        note = "best" if best else (f"diverged at step {result.diverged_at[i]}"
                                    if result.diverged[i] else ("at chance" if failed else ""))  # fmt: skip
        table.add_row(f"{lr:.3g}", f"{float(result.losses[i, -tail:].mean()):.4g}", f"{vl:.4g}",
                      f"{vm:.4g}", note, style="bold green" if best else ("red" if failed else None))  # fmt: skip
    console = Console()
    console.print(table)
    best_lr = f"{result.best_lr:.3g}" if result.best_lr is not None else "none (all failed)"
    console.print(
        f"[bold]{t.name}[/bold] ({opt_name}): best lr = [bold green]{best_lr}[/bold green] by "
        f"{result.criterion.replace('_', ' ')}; {int(result.diverged.sum())}/{len(result.lrs)} "
        f"diverged, {int(result.at_chance.sum())} at chance; {result.steps} steps in "
        f"{result.wall_time_s:.1f} s ({result.engine}, "
        f"chunk {result.chunk})"
    )
    context = {"task": t.name, "optimizer": opt_name, "seed": seed, "schedule": schedule,
               "metric_name": metric_name}  # fmt: skip
    print_saved(output.save(f"sweep-{t.name}-{opt_name}", result, context))
