"""``lrkit study [TASK]``: how much do the learning rate and its schedule matter? A report."""

from __future__ import annotations

import inspect
import math
import re
import sys

import click

__all__ = ["command"]

_VERDICT_STYLE = {"best": "bold green", "worse": "red", "worse (below val SE)": "yellow",
                  "unreliable": "red"}  # fmt: skip


def _csv(value: str | None) -> tuple[str, ...] | None:
    items = tuple(v.strip() for v in (value or "").split(",") if v.strip())
    return items or None


def template() -> str:
    """The task-file template shown by ``lrkit study --help`` and in the README."""
    from pathlib import Path

    return Path(__file__).with_name("_task_template.py").read_text()


def _help_block(text: str) -> str:
    # click rewraps help paragraphs; "\b" keeps each paragraph of code as it is.
    return "\n\n".join("\b\n" + p for p in re.split(r"\n\s*\n", text.strip()))


@click.command("study")
@click.argument("task", default="mnist1d-cnn", required=False)
@click.option(
    "--budget",
    type=click.Choice(["quick", "standard", "thorough"]),
    default="standard",
    show_default=True,
    help="quick ≈ 30 s (CI), standard ≈ 5 min, thorough ≈ 12 min on an idle 2-core CPU "
    "(docs/benchmarks.md), plus ≈ 1 and 3.5 min for their PBT phase; longer on a busy machine.",
)
@click.option("--optimizers", default=None, metavar="LIST",
              help="Comma-separated optimizer names, e.g. adam,sgd_momentum (any lrkit.optim name; "
              "default: the budget's).")  # fmt: skip
@click.option("--schedules", default=None, metavar="LIST",
              help="Comma-separated subset of constant, step, exponential, cosine, one_cycle, "
              "wsd, plateau (default: all).")  # fmt: skip
@click.option("--seeds", type=int, default=None, help="Final trainings per configuration.")
@click.option("--epochs", type=int, default=None, help="Epochs per run (default: the budget's).")
@click.option(
    "--out",
    "out",
    type=click.Path(file_okay=False),
    default="lrkit-study",
    show_default=True,
    help="Folder for report.html and results.json.",
)
@click.option("--no-progress", is_flag=True, help="Hide the progress bar.")
def command(
    task: str,
    budget: str,
    optimizers: str | None,
    schedules: str | None,
    seeds: int | None,
    epochs: int | None,
    out: str,
    no_progress: bool,
) -> None:
    """Measure how much the LR and its schedule matter for TASK (default mnist1d-cnn).

    TASK is a built-in task (mnist1d-cnn, mnist1d-mlp, digits-mlp) or path/to/file.py:factory.
    Runs the LR range test per optimizer, a sensitivity sweep per schedule, final trainings
    with fresh seeds at each schedule's best LR, PBT against its equal-cost constant-LR grid
    (standard and thorough budgets) and the doctor on every run; writes
    OUT/report.html (self-contained) and OUT/results.json and prints a summary.

    A task file, e.g. my_task.py run as `lrkit study my_task.py:make`:

    TASK_TEMPLATE
    """
    from pathlib import Path

    from rich.console import Console
    from rich.table import Table

    from lrkit._output import prepare_folder
    from lrkit.study import run_study

    prepare_folder(out, create=False)  # an unwritable --out fails now, not after the training
    result = run_study(
        task,
        budget=budget,
        optimizers=_csv(optimizers),
        schedules=_csv(schedules),
        seeds=seeds,
        epochs=epochs,
        out=out,
        progress=not no_progress,
    )
    console = Console(width=None if sys.stdout.isatty() else 200)  # piped: no 80-col cut
    pct = result.accuracy_like

    def fmt(v: float, sd: float | None = None) -> str:
        if not math.isfinite(v):
            return "–"
        s = f"{100 * v:.1f}" if pct else f"{v:.4g}"
        if sd is not None and math.isfinite(sd):
            s += f"±{100 * sd:.1f}" if pct else f"±{sd:.2g}"
        return s + ("%" if pct else "")

    table = Table(title=f"lrkit study · {result.task['name']} · {result.budget['name']} budget")
    for col in ("optimizer", "schedule", "best LR", result.metric_name[:8], "vs best",
                "epochs to target", "doctor"):  # fmt: skip
        right = col in ("best LR", result.metric_name[:8], "epochs to target")
        wrap = col in ("best LR", "vs best", "epochs to target", "doctor")
        table.add_column(col, justify="right" if right else "left", no_wrap=not wrap)
    for s in result.summaries:
        style = _VERDICT_STYLE.get(s.verdict, "")
        reach = f"{s.epochs_to_target:.0f}" if s.epochs_to_target is not None else "–"
        table.add_row(
            s.optimizer,
            s.schedule,
            f"{s.lr:.3g}" if math.isfinite(s.lr) else "–",
            fmt(s.mean, s.std),
            f"[{style}]{s.verdict}[/]" if style else s.verdict,
            reach,
            ", ".join(sorted(set(s.doctor_verdicts))),
        )
    console.print(table)
    if result.recommendation is not None:
        console.print(f"[bold green]Recommendation:[/] {result.recommendation.text}")
    if result.pbt is not None:
        console.print(f"[bold]PBT:[/] {result.pbt['sentence']}")
    if result.val_se is not None:
        console.print(
            f"[dim]Validation set: {result.val_size} samples, standard error of an accuracy "
            f"≈ {100 * result.val_se:.1f} points; 'within noise' = not distinguishable from the "
            "best across seeds.[/]"
        )
    report = Path(out) / "report.html"
    console.print(f"Report: {report.resolve()}  (results: {Path(out, 'results.json')})")


command.help = inspect.cleandoc(command.help or "").replace(
    "TASK_TEMPLATE", _help_block(template())
)
