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


# The public API of each package, reviewed (issue #16): what users construct or call, and the
# results they get back. A name added to an __all__ must be added here on purpose.
PUBLIC = {
    "lrkit": {
        *("ConfigError", "Diagnosis", "FinderResult", "LRKitError", "ReduceOnPlateau"),
        *("Schedule", "ScheduleError", "__version__", "diagnose", "find_lr", "parse", "pbt"),
        *("run_study", "schedules", "sweep", "tune"),
    },
    "lrkit.scaling": {
        *("BatchScaling", "ParamGroups", "WidthScaling", "batch_size", "param_groups", "width"),
        "width_groups",
    },
    "lrkit.optim": {"HDSGD", "HDAdam", "available", "effective_lr", "evaluating", "make"},
    "lrkit.control": {"GuardAction", "GuardEvent", "GuardPolicy", "ReduceOnPlateau"},
    "lrkit.testing": {
        *("check_adapter", "check_invalid", "check_registry_covered", "check_schedule"),
        *("example_schedules", "schedule_cases"),
    },
}


def test_public_names_are_the_reviewed_ones() -> None:
    import importlib

    from lrkit import schedules

    for name, expected in PUBLIC.items():
        module = importlib.import_module(name)
        assert set(module.__all__) == expected, name
        assert len(module.__all__) == len(set(module.__all__)), f"{name}: duplicates in __all__"
        for attr in module.__all__:
            assert getattr(module, attr) is not None, f"{name}.{attr}"
    # lrkit.schedules exports the factories, the base class and the spec functions, no helpers
    factories = set(schedules.registry())
    assert set(schedules.__all__) == factories | {"Schedule", "from_dict", "parse", "registry"}


def test_internals_stay_importable_from_their_private_modules() -> None:
    from lrkit.optim._registry import OPTIMIZERS
    from lrkit.scaling._batch import SAFE_MAX_BATCH, optimizer_family
    from lrkit.scaling._groups import GroupInfo, layer_ids
    from lrkit.scaling._width import classify
    from lrkit.testing._schedules import check_roundtrip, check_vectorised, probe_steps

    assert "adam" in OPTIMIZERS and SAFE_MAX_BATCH == 8192 and optimizer_family("adam")
    assert all(callable(f) for f in (GroupInfo, layer_ids, classify, check_roundtrip))
    assert all(callable(f) for f in (check_vectorised, probe_steps))
