"""The ``lrkit`` command.

Subcommands live in one module each (``lrkit.cli.plot``, ``lrkit.cli.find``, ...) and are
imported only when invoked, so ``lrkit --help`` stays fast and a command whose optional
dependency is missing does not break the others.
"""

from __future__ import annotations

import importlib
import os
import sys
from typing import Any

import click

from lrkit._version import __version__
from lrkit.errors import LRKitError

__all__ = ["main"]

# name -> (module, one-line help). Each module defines a click command called ``command``.
_COMMANDS: dict[str, tuple[str, str]] = {
    "scale": ("lrkit.cli.scale", "Scale the LR to a new batch size or width (linear, sqrt, μP)."),
    "find": ("lrkit.cli.find", "LR range test on a task: suggestion, interval, plot and JSON."),
    "plot": ("lrkit.cli.plot", "Draw a schedule and print its key values."),
    "sweep": ("lrkit.cli.sweep", "Train K learning rates at once, vectorised."),
    "pbt": ("lrkit.cli.pbt", "Population-based training: evolve the LR, get the schedule back."),
    "tune": ("lrkit.cli.tune", "Search the LR with Optuna (resumable, distributed)."),
    "doctor": ("lrkit.cli.doctor", "Diagnose a training log: verdict, evidence, prescription."),
    "study": ("lrkit.cli.study", "How much do the LR and its schedule matter? An HTML report."),
}


class _LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(_COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in _COMMANDS:
            return None
        module = importlib.import_module(_COMMANDS[cmd_name][0])
        command: click.Command = module.command
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, help_) for name, (_, help_) in sorted(_COMMANDS.items())]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="lrkit")
@click.option("--debug", is_flag=True, help="Show full tracebacks instead of one-line errors.")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """lrkit: schedule, find, diagnose, tune and sweep the learning rate."""
    ctx.obj = {"debug": debug}


def fail(message: str) -> None:
    """Print ``message`` as a one-line error and exit with code 2."""
    click.echo(f"lrkit: error: {message}", err=True)
    sys.exit(2)


def main(argv: list[str] | None = None) -> Any:
    """Entry point of the ``lrkit`` console script."""
    debug = "--debug" in (argv if argv is not None else sys.argv[1:])
    try:
        # Not click's standalone mode: its usage errors span four lines; lrkit promises one.
        code = cli.main(args=argv, prog_name="lrkit", standalone_mode=False)
    except click.exceptions.NoArgsIsHelpError as exc:
        click.echo(exc.ctx.get_help() if exc.ctx else exc.format_message())
        sys.exit(0)
    except click.ClickException as exc:
        if debug:
            raise
        fail(" ".join(exc.format_message().split()))
    except LRKitError as exc:
        if debug:
            raise
        fail(str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
    except (KeyboardInterrupt, click.exceptions.Abort):
        click.echo("lrkit: interrupted", err=True)
        sys.exit(130)
    except BrokenPipeError:  # `lrkit ... | head`: the reader left; exit quietly, as click does
        # Python's recipe: point stdout at devnull so the flush at exit does not raise again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(1)
    sys.exit(code if isinstance(code, int) else 0)
