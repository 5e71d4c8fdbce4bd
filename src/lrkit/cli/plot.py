"""``lrkit plot SPEC``: draw a schedule and print its key values."""

from __future__ import annotations

import json

import click
import numpy as np

from lrkit._output import prepare_file
from lrkit.errors import ConfigError, DependencyError
from lrkit.schedules import parse
from lrkit.schedules._plot import change_points, plot_schedule, text_chart


@click.command(name="plot")
@click.argument("spec")
@click.option(
    "--steps",
    type=int,
    default=None,
    help="Number of updates to draw, s(0) .. s(STEPS-1) (default: the schedule's length, or 1000).",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False),
    default=None,
    help="Save a PNG here (needs lrkit[plot]; its folder is created if missing).",
)
@click.option("--log", "log_scale", is_flag=True, help="Logarithmic LR axis.")
@click.option(
    "--json", "as_json", is_flag=True, help="Print the key values as JSON instead of text."
)
def command(spec: str, steps: int | None, out: str | None, log_scale: bool, as_json: bool) -> None:
    """Draw the schedule SPEC, e.g. "warmup(cosine(lr=3e-4, steps=10000), steps=500)"."""
    schedule = parse(spec)
    if steps is None:
        # A schedule of N steps is the LRs of updates 0 .. N-1: exactly N values.
        steps = schedule.horizon if schedule.horizon and schedule.horizon >= 2 else 1000
    if steps < 2:
        raise ConfigError(f"--steps must be >= 2, but got --steps={steps}")
    if out is not None:
        prepare_file(out)
    values = schedule.sample(steps)
    peak = int(np.argmax(values))
    changes = change_points(values)
    summary: dict[str, object] = {
        "schedule": repr(schedule),
        "steps": steps,
        "first": float(values[0]),
        "peak": float(values[peak]),
        "peak_step": peak,
        "min": float(values.min()),
        "last": float(values[-1]),
        "changes_at": changes,
    }
    saved = None
    note = None
    if out is not None:
        try:
            plot_schedule(schedule, steps, path=out, log=log_scale)
            saved = out
        except DependencyError as exc:
            note = f"{exc}; showing the terminal chart only"
    if as_json:
        click.echo(json.dumps({**summary, "png": saved}))
        return
    click.echo(repr(schedule))
    click.echo(text_chart(values, log=log_scale))
    click.echo(
        f"first {summary['first']:.6g} · peak {summary['peak']:.6g} at step {peak} · "
        f"min {summary['min']:.6g} · last {summary['last']:.6g} (step {steps - 1})"
    )
    if changes:
        click.echo("changes at steps: " + ", ".join(map(str, changes)))
    if saved:
        click.echo(f"saved {saved}")
    if note:
        click.echo(f"note: {note}", err=True)
