"""The task-file template of ``lrkit study --help`` and the README is one text, and it runs."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from lrkit.cli import cli, main
from lrkit.cli.study import template

README = Path(__file__).resolve().parents[2] / "README.md"


def test_help_and_readme_show_the_same_template() -> None:
    text = template()
    help_text = CliRunner().invoke(cli, ["study", "--help"]).output
    for line in text.splitlines():
        if line.strip():
            assert line.rstrip() in help_text, line
    section = README.read_text().split("## Your own task", 1)[1]
    block = re.search(r"```python\n(.*?)```", section, re.S)
    assert block is not None and block.group(1) == text


def test_the_template_runs_a_study(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("torch", reason="the task template needs torch")
    task = tmp_path / "my_task.py"
    task.write_text(template())
    with pytest.raises(SystemExit) as exc:
        main(["study", f"{task}:make", "--budget", "quick", "--epochs", "1", "--seeds", "1",
              "--schedules", "constant", "--optimizers", "adam", "--no-progress",
              "--out", str(tmp_path / "out")])  # fmt: skip
    assert exc.value.code == 0, capsys.readouterr().err
    assert (tmp_path / "out" / "report.html").is_file()
    assert "my-task" in capsys.readouterr().out
