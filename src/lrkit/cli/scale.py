"""``lrkit scale``: the LR for a new batch size or width (linear / sqrt rule, μP)."""

from __future__ import annotations

import json
import warnings
from typing import Any

import click

from lrkit.errors import ConfigError
from lrkit.scaling import batch_size, width


@click.command(name="scale")
@click.option("--lr", type=float, required=True, help="The LR tuned at the base size.")
@click.option("--from-batch", type=int, default=None, help="Batch size the LR was tuned at.")
@click.option("--to-batch", type=int, default=None, help="Batch size to scale to.")
@click.option("--from-width", type=int, default=None, help="Width the LR was tuned at.")
@click.option(
    "--to-width", "--width", "to_width", type=int, default=None, help="Width to scale to."
)
@click.option(
    "--optimizer",
    default=None,
    help="Optimizer name (sgd, sgd_momentum, adam, adamw, ...): picks the batch rule and the "
    "width table. Default: the linear rule for batch, adam for width.",
)
@click.option(
    "--rule",
    type=click.Choice(["auto", "linear", "sqrt"]),
    default=None,
    help="Batch rule; default: auto with --optimizer, else linear.",
)
@click.option(
    "--dataset-size", type=int, default=None, help="Training examples (gives warmup in updates)."
)
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def command(
    lr: float,
    from_batch: int | None,
    to_batch: int | None,
    from_width: int | None,
    to_width: int | None,
    optimizer: str | None,
    rule: str | None,
    dataset_size: int | None,
    as_json: bool,
) -> None:
    """Scale LR to a new batch size (Goyal et al. linear rule, Malladi et al. square-root rule)
    or width (μP, Yang et al.).

    \b
    lrkit scale --lr 0.1 --from-batch 256 --to-batch 4096 --dataset-size 1281167
    lrkit scale --lr 3e-4 --from-batch 256 --to-batch 4096 --optimizer adam
    lrkit scale --lr 1e-2 --from-width 256 --to-width 4096 --optimizer adam
    """
    want_batch = from_batch is not None or to_batch is not None
    want_width = from_width is not None or to_width is not None
    if not (want_batch or want_width):
        raise ConfigError("give --from-batch and --to-batch, or --from-width and --to-width")
    if want_batch and (from_batch is None or to_batch is None):
        raise ConfigError(
            f"batch scaling needs both --from-batch and --to-batch, but got "
            f"--from-batch={from_batch} --to-batch={to_batch}"
        )
    if want_width and (from_width is None or to_width is None):
        raise ConfigError(
            f"width scaling needs both --from-width and --to-width, but got "
            f"--from-width={from_width} --to-width={to_width}"
        )
    out: dict[str, Any] = {}
    notes: list[str] = []
    if want_batch:
        assert from_batch is not None and to_batch is not None
        chosen = rule or ("auto" if optimizer else "linear")
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            result = batch_size(
                lr, from_batch, to_batch, chosen, optimizer, dataset_size=dataset_size
            )
        notes += [str(w.message) for w in caught]
        out["batch"] = result.to_dict()
    if want_width:
        assert from_width is not None and to_width is not None
        opt = optimizer or "adam"
        out["width"] = {
            layer: width(lr, from_width, to_width, opt, layer).to_dict()
            for layer in ("input", "hidden", "output")
        }
    if as_json:
        click.echo(json.dumps(out))
    else:
        _print(out)
    for note in notes:
        click.echo(f"warning: {note}", err=True)


def _print(out: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(highlight=False)
    if "batch" in out:
        b = out["batch"]
        if b["warmup_epochs"]:
            steps = f" ({b['warmup_steps']} updates)" if b["warmup_steps"] is not None else ""
            warm = f"linear warmup over {b['warmup_epochs']:g} epochs{steps}"
        else:
            warm = "no warmup needed"
        click.echo(  # plain echo: one line, never wrapped, easy to copy
            f"batch {b['base_batch']} -> {b['batch']}, {b['rule']} rule: "
            f"lr {b['lr']:.6g} (x{b['factor']:.4g} of {b['base_lr']:.6g}); {warm}"
        )
    if "width" in out:
        rows = out["width"]
        first = rows["hidden"]
        table = Table(
            min_width=56,
            title=f"width {first['base_width']} -> {first['width']} (μP, {first['optimizer']})",
        )
        for col in ("tensors", "lr", "factor"):
            table.add_column(col, justify="right" if col != "tensors" else "left")
        labels = {
            "input": "input weights, biases",
            "hidden": "hidden weights",
            "output": "output weights",
        }
        for layer, r in rows.items():
            table.add_row(labels[layer], f"{r['lr']:.6g}", f"x{r['factor']:.4g}")
        console.print(table)
        console.print(
            "in code: lrkit.scaling.width_groups(model, base_model, lr) builds these groups"
        )
