from __future__ import annotations

import subprocess
import sys


def _run(code: str) -> str:
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    ).stdout.strip()


def test_import_lrkit_imports_no_ml_framework() -> None:
    out = _run(
        "import sys, lrkit; "
        "print(sorted(m for m in ('torch', 'keras', 'jax', 'optuna', 'lightning', 'tensorflow') "
        "if m in sys.modules))"
    )
    assert out == "[]"


def test_tune_is_callable_before_and_after_importing_the_subpackage() -> None:
    out = _run(
        "import math, lrkit\n"
        "f = lambda lr, trial: (math.log10(lr) + 3) ** 2\n"
        "a = lrkit.tune(f, strategy='grid', trials=7, low=1e-6, high=1.0).best_lr\n"
        "import lrkit.tune\n"
        "from lrkit.tune import TuneResult\n"
        "b = lrkit.tune(f, strategy='grid', trials=7, low=1e-6, high=1.0)\n"
        "print(round(math.log10(a)), isinstance(b, TuneResult))"
    )
    assert out == "-3 True"


def test_version_is_exposed() -> None:
    import lrkit

    assert isinstance(lrkit.__version__, str) and lrkit.__version__.count(".") == 2


def test_sweep_is_callable_and_a_package() -> None:
    out = _run(
        "import sys, lrkit, torch\n"
        "m = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 3))\n"
        "x, y = torch.randn(64, 4), torch.randint(0, 3, (64,))\n"
        "r = lrkit.sweep(m, (x, y), loss_fn=torch.nn.functional.cross_entropy, lrs=[0.01, 0.1],"
        " steps=5, batch_size=16)\n"
        "import lrkit.sweep\n"
        "print(isinstance(r, lrkit.sweep.SweepResult), r.losses.shape)"
    )
    assert out == "True (2, 5)"


def test_lazy_reexports_resolve() -> None:
    out = _run(
        "import sys, lrkit\n"
        "d = lrkit.diagnose({'step': list(range(200)), 'loss': [2.0 / (1 + 0.05 * i) for i in range(200)]})\n"
        "print(type(d).__name__ == lrkit.Diagnosis.__name__, callable(lrkit.run_study), 'torch' in sys.modules)"
    )
    assert out == "True True False"
