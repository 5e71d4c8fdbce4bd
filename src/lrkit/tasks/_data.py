"""Locally generated data sets: MNIST-1D (cached as .npz) and scikit-learn digits."""

from __future__ import annotations

import functools
import os
import tempfile
from pathlib import Path

import numpy as np

from lrkit.errors import require

__all__ = ["cache_dir", "digits_arrays", "mnist1d_arrays"]

_MNIST1D_VERSION = 1


def cache_dir() -> Path:
    """``$LRKIT_CACHE`` if set, else ``~/.cache/lrkit``."""
    env = os.environ.get("LRKIT_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "lrkit"


def _atomic_savez(path: Path, arrays: dict[str, np.ndarray]) -> None:
    # A temp file in the same folder + os.replace: concurrent writers (tests, sweep workers)
    # never leave a half-written cache file behind.
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            np.savez(fh, **arrays)  # type: ignore[arg-type]
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@functools.lru_cache(maxsize=4)
def mnist1d_arrays(seed: int = 42) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """MNIST-1D ``(x_train, y_train, x_test, y_test)`` made by the ``mnist1d`` generator.

    Greydanus & Kobak, "Scaling down deep learning with MNIST-1D" (ICML 2024): 4000 train and
    1000 test sequences of length 40, 10 classes. Generated locally (no download) with the
    package's default arguments and cached under :func:`cache_dir`.
    """
    path = cache_dir() / f"mnist1d-v{_MNIST1D_VERSION}-seed{seed}.npz"
    if path.exists():
        try:
            with np.load(path) as z:
                return z["x"], z["y"], z["x_test"], z["y_test"]
        except (OSError, KeyError, ValueError):
            pass  # a corrupt cache file is regenerated below
    data_mod = require("mnist1d.data", "torch")
    args = data_mod.get_dataset_args()  # type: ignore[attr-defined]
    args.seed = seed
    ds = data_mod.make_dataset(args)  # type: ignore[attr-defined]
    arrays: dict[str, np.ndarray] = {
        "x": np.asarray(ds["x"], dtype=np.float32),
        "y": np.asarray(ds["y"], dtype=np.int64),
        "x_test": np.asarray(ds["x_test"], dtype=np.float32),
        "y_test": np.asarray(ds["y_test"], dtype=np.int64),
    }
    _atomic_savez(path, arrays)
    return arrays["x"], arrays["y"], arrays["x_test"], arrays["y_test"]


@functools.lru_cache(maxsize=1)
def digits_arrays() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """scikit-learn's 8×8 digits, stratified 75/25 split, standardised with train statistics."""
    datasets = require("sklearn.datasets", "torch")
    model_selection = require("sklearn.model_selection", "torch")
    x, y = datasets.load_digits(return_X_y=True)  # type: ignore[attr-defined]
    x_tr, x_te, y_tr, y_te = model_selection.train_test_split(  # type: ignore[attr-defined]
        x, y, test_size=0.25, random_state=0, stratify=y
    )
    mean = x_tr.mean(axis=0)
    std = np.maximum(x_tr.std(axis=0), 1e-3)  # some border pixels are always 0
    norm = lambda a: ((a - mean) / std).astype(np.float32)  # noqa: E731
    return norm(x_tr), y_tr.astype(np.int64), norm(x_te), y_te.astype(np.int64)
