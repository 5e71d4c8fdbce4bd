"""The benchmark scripts: checks that need no benchmark run."""

from __future__ import annotations

import ast
from collections import Counter
from pathlib import Path

import pytest

BENCHMARKS = sorted((Path(__file__).parent.parent / "benchmarks").glob("*.py"))


@pytest.mark.parametrize("path", BENCHMARKS, ids=lambda p: p.name)
def test_no_module_level_name_is_defined_twice(path: Path) -> None:
    # A task file grows by one pair of tasks per session; a helper defined again under an
    # existing name (`_bce`, `_mse`) silently replaced the earlier one for every task that
    # used it (session 24: a multi-label tagger's loss became a click model's, scaled by 64).
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = Counter(
        node.name
        for node in tree.body
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
    )
    assert not [n for n, k in names.items() if k > 1]
