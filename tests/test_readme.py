"""Every code block of README.md runs as written.

Python blocks run one by one in a fresh namespace inside a temporary folder (a block that
imports keras runs in its own process, since Keras fixes its backend at import). A block whose
optional dependency is missing is skipped, naming it. Shell blocks: every ``lrkit`` command line
is parsed by the real command (options, types, choices) without running it, and the cheap ones
(``plot``, ``scale``, ``--help``) run; the Quickstart's set-up commands are not run here.
"""

from __future__ import annotations

import ast
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
OPTIONAL = {
    "torch": "torch",
    "lightning": "lightning",
    "keras": "keras",
    "jax": "jax",
    "optax": "jax",
    "transformers": "transformers",
    "optuna": "optuna",
    "matplotlib": "plot",
}
RUN_COMMANDS = {"plot", "scale"}  # fast enough to run; the others are parsed only


def _blocks(lang: str) -> list[tuple[str, str]]:
    """``(heading · n, code)`` of every fenced block in ``lang``."""
    out, heading, counts = [], "top", {}
    for m in re.finditer(r"^(#+ [^\n]*)$|^```(\w*)\n(.*?)^```", README.read_text(), re.M | re.S):
        if m.group(1):
            heading = m.group(1).lstrip("# ").strip()
        elif m.group(2) == lang:
            counts[heading] = counts.get(heading, 0) + 1
            out.append((f"{heading} · {counts[heading]}", m.group(3)))
    return out


def _needs(code: str) -> set[str]:
    mods = set()
    for node in ast.walk(ast.parse(code)):
        if isinstance(node, ast.Import):
            mods |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            mods.add(node.module.split(".")[0])
    # lrkit's torch-based features need torch even when the block does not import it.
    if re.search(r"lrkit\.(find_lr|sweep|pbt|finder)|integrations\.torch", code):
        mods.add("torch")
    return {m for m in mods if m in OPTIONAL}


PYTHON = _blocks("python")


def test_the_readme_has_python_blocks() -> None:
    assert len(PYTHON) >= 10


@pytest.mark.parametrize(("where", "code"), PYTHON, ids=[w for w, _ in PYTHON])
def test_python_block_runs(
    where: str, code: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for mod in sorted(_needs(code)):
        pytest.importorskip(
            mod, reason=f"README block needs {mod}: pip install 'lrkit[{OPTIONAL[mod]}]'"
        )
    monkeypatch.chdir(tmp_path)
    if "keras" in _needs(code):
        env = {k: v for k, v in os.environ.items() if k != "KERAS_BACKEND"}  # as a user has it
        env["MPLBACKEND"] = "Agg"
        proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=300)  # fmt: skip
        assert proc.returncode == 0, proc.stderr[-3000:]
        return
    import matplotlib

    matplotlib.use("Agg")
    exec(compile(code, f"README.md: {where}", "exec"), {"__name__": "__readme__"})


def _command_lines() -> list[tuple[str, list[str]]]:
    out = []
    for where, code in _blocks("bash"):
        for line in code.replace("\\\n", " ").splitlines():
            line = line.split("  #")[0].strip()
            if line.startswith("lrkit "):
                args = shlex.split(line.replace("$HOST_ID", "0"))[1:]
                out.append((f"{where}: {line}", args))
    return out


COMMANDS = _command_lines()


def test_the_readme_has_command_lines() -> None:
    assert len(COMMANDS) >= 10


@pytest.mark.parametrize(("where", "args"), COMMANDS, ids=[w for w, _ in COMMANDS])
def test_command_line_is_valid(
    where: str, args: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from lrkit.cli import cli, main

    monkeypatch.chdir(tmp_path)
    if args == ["--help"] or args[0] in RUN_COMMANDS:
        with pytest.raises(SystemExit) as exc:
            main(args)
        assert exc.value.code == 0, where
        return
    sub = cli.get_command(cli.make_context("lrkit", ["--help"], resilient_parsing=True), args[0])
    assert sub is not None, where
    sub.make_context(f"lrkit {args[0]}", list(args[1:]))  # parses options, types and choices
