"""``lrkit doctor LOG``: diagnose a training log.

Exit codes: 0 healthy (or inconclusive: too little evidence to call anything a problem), 1 a
problem was found, 2 the log could not be read.
"""

from __future__ import annotations

import json
import sys

import click

__all__ = ["command"]

_READERS = ("csv", "lightning", "jsonl", "json", "huggingface", "yolo", "mlflow", "wandb",
            "tensorboard", "keras")  # fmt: skip
_STYLE = {
    "healthy": "bold green",
    "inconclusive": "bold yellow",
    "plateau": "bold yellow",
    "lr_too_low": "bold yellow",
}


@click.command("doctor")
@click.argument("log", type=click.Path(dir_okay=True, path_type=str))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="Output format.",
)
@click.option(
    "--input-format",
    type=click.Choice(list(_READERS)),
    default=None,
    help="Force the log reader (detected from the file by default).",
)
@click.option("--plot", "plot_path", type=click.Path(dir_okay=False), default=None,
              help="Save a plot of the curve with the findings marked.")  # fmt: skip
@click.option("--loss", default=None, help="Training-loss column or tag.")
@click.option("--val-loss", default=None, help="Validation-loss column or tag.")
@click.option("--lr", default=None, help="Learning-rate column or tag.")
@click.option("--step", default=None, help="Step column.")
@click.option(
    "--rules-only",
    is_flag=True,
    help="The rules' verdict alone, without the learned second opinion.",
)
def command(
    log: str,
    fmt: str,
    input_format: str | None,
    plot_path: str | None,
    loss: str | None,
    val_loss: str | None,
    lr: str | None,
    step: str | None,
    rules_only: bool,
) -> None:
    """Diagnose the training run in LOG (CSV, Lightning metrics.csv, JSON Lines, Keras history
    or CSVLogger, Hugging Face trainer_state.json, YOLO results.csv, W&B export, an MLflow run
    folder, or a TensorBoard event file / run directory).

    Exit code 0 when the run looks healthy, 1 when a problem was found, 2 when LOG cannot be read.
    """
    from lrkit.doctor import Thresholds, diagnose

    t = Thresholds(learned_margin=0.0) if rules_only else None
    d = diagnose(
        log, thresholds=t, format=input_format, loss=loss, val_loss=val_loss, lr=lr, step=step
    )
    if plot_path is not None:
        import matplotlib

        matplotlib.use("Agg")
        d.plot(path=plot_path)
    if fmt == "json":
        click.echo(json.dumps(d.to_dict(), indent=2))
    else:
        from rich.console import Console

        console = Console(highlight=False)
        lines = d.explain().splitlines()
        console.print(lines[0], style=_STYLE.get(d.verdict, "bold red"), markup=False)
        for line in lines[1:]:
            console.print(line, markup=False)
        if plot_path is not None:
            console.print(f"Plot saved to {plot_path}", markup=False)
    sys.exit(0 if d.verdict in ("healthy", "inconclusive") else 1)  # inconclusive: no problem found
