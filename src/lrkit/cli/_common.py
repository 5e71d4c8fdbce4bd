"""What the commands share: their common options, device checks, a progress bar that starts
with the work, and the table and ``saved`` lines they print."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, TypeVar

import click

from lrkit.errors import ConfigError

__all__ = ["LazyBar", "check_device", "no_plot_option", "optimizer_option", "out_option",
           "print_saved", "seed_option", "seeded_model", "vectorised_options"]  # fmt: skip

F = TypeVar("F", bound=Callable[..., Any])


def _stack(*decorators: Callable[[F], F]) -> Callable[[F], F]:
    def apply(f: F) -> F:
        for d in reversed(decorators):
            f = d(f)
        return f

    return apply


def out_option(what: str, default: str = "lrkit-out") -> Callable[[F], F]:
    """``--out FOLDER`` (created when missing, checked for writing before any work)."""
    return click.option(
        "--out",
        type=click.Path(file_okay=False),
        default=default,
        show_default=True,
        help=f"Folder for {what} (created if missing).",
    )


def seed_option(default: int | None = 0, help: str | None = None) -> Callable[[F], F]:
    return click.option("--seed", type=int, default=default, show_default=default is not None,
                        help=help)  # fmt: skip


no_plot_option = click.option(
    "--no-plot", is_flag=True, help="Skip the PNG (no matplotlib needed)."
)


def optimizer_option(what: str = "Optimizer") -> Callable[[F], F]:
    from lrkit.tasks import OPTIMIZERS

    return click.option("--optimizer", type=click.Choice(OPTIMIZERS), default=None,
                        help=f"{what} [default: the task's recipe].")  # fmt: skip


def vectorised_options(unit: str, what: str) -> Callable[[F], F]:
    """The options ``sweep`` and ``pbt`` share: optimizer, length, device, seed, output."""
    return _stack(
        optimizer_option(),
        click.option("--steps", type=int, default=None, help=f"Updates per {unit} (instead of --epochs)."),
        click.option("--epochs", type=int, default=None, help="Epochs [default: the task's recipe]."),
        click.option("--batch-size", type=int, default=None, help="[default: the task's recipe]"),
        click.option("--device", default=None, help="cpu, cuda, cuda:1, mps, ... [default: cpu]"),
        click.option("--dtype", type=click.Choice(["float32", "float64"]), default="float32",
                     show_default=True),
        seed_option(),
        out_option(what),
        no_plot_option,
    )  # fmt: skip


def check_device(device: str | None) -> str | None:
    """Check ``--device`` names a device this torch build can use, before any work."""
    if device is None:
        return None
    import torch

    try:
        dev = torch.device(device)
    except (RuntimeError, ValueError):
        raise ConfigError(
            f"--device must be a torch device such as cpu, cuda or cuda:1, but got --device={device!r}"
        ) from None
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            build = "a CPU-only build of torch" if torch.version.cuda is None else "no GPU visible"
            raise ConfigError(f"--device={device!r} is not available: {build} (use --device cpu)")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise ConfigError(
                f"--device={device!r} is not available: {torch.cuda.device_count()} GPU(s) visible"
            )
    elif dev.type == "mps" and not torch.backends.mps.is_available():
        raise ConfigError(
            f"--device={device!r} is not available on this machine (use --device cpu)"
        )
    return device


def seeded_model(task: Any, seed: int) -> Any:
    """A fresh model of ``task`` built under ``seed``, leaving the caller's RNG as it was."""
    import torch

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return task.make_model()


class LazyBar:
    """A ``progress(done, total, ...)`` callback that draws :class:`lrkit._progress.ProgressBar`
    at its first call, so argument errors raised before the work stay one line."""

    def __init__(self, description: str, *, enabled: bool = True,
                 info: Callable[..., str] | None = None) -> None:  # fmt: skip
        self.description, self.enabled, self.info = description, enabled, info
        self.bar: Any = None

    def __call__(self, done: float, total: float, *extra: Any) -> None:
        if not self.enabled:
            return
        if self.bar is None:
            from lrkit._progress import ProgressBar

            self.bar = ProgressBar(self.description, 1.0, show_count=False)
        text = self.info(*extra) if self.info is not None else None
        self.bar.update(completed=done / max(total, 1), info=text)

    def __enter__(self) -> LazyBar:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.close()


def print_saved(paths: Iterable[Any]) -> None:
    for p in paths:
        click.echo(f"saved {p}")
