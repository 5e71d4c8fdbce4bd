"""optax adapter: :func:`to_optax` turns any lrkit schedule into a jit-able optax schedule.

The value is computed by the schedule's own formula with ``jax.numpy`` as the array namespace —
the same code that NumPy runs, no second definition — so it traces under ``jax.jit``,
``jax.vmap`` and inside optax's update functions. optax passes the update count, 0 for the first
update, which is lrkit's step convention: update ``k`` runs at ``s(k)``.

>>> import optax
>>> from lrkit.schedules import cosine, warmup
>>> lr = to_optax(warmup(cosine(lr=1e-3, steps=100), steps=10))
>>> round(float(lr(10)), 8)
0.001
>>> opt = optax.adamw(learning_rate=lr)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from lrkit.errors import ConfigError, require

require("jax", "jax")
require("optax", "jax")

import jax.numpy as jnp  # noqa: E402

from lrkit.schedules import Schedule  # noqa: E402

__all__ = ["to_optax"]


def to_optax(schedule: Schedule, *, dtype: Any = None) -> Callable[[Any], Any]:
    """An optax schedule (``count -> learning rate``) that evaluates ``schedule`` with ``jax.numpy``.

    Args:
        schedule: any lrkit schedule.
        dtype: the float dtype to compute in; ``None`` is JAX's default float (float32, or
            float64 with ``jax_enable_x64``). float32 matches NumPy's float64 values to about
            1e-6 relative; under x64 they agree to rounding.

    Returns:
        A function of the update count (a Python int or a JAX integer scalar or array) that
        returns the LR with the count's shape; pure and jit-able, for ``optax.adamw(
        learning_rate=...)``, ``optax.inject_hyperparams`` or ``optax.scale_by_schedule``.
    """
    if not isinstance(schedule, Schedule):
        raise ConfigError(
            f"schedule must be an lrkit Schedule (e.g. lrkit.schedules.cosine(...)), "
            f"but got schedule={schedule!r}"
        )
    float_dtype = jnp.asarray(0.0).dtype if dtype is None else jnp.dtype(dtype)
    if not jnp.issubdtype(float_dtype, jnp.floating):
        raise ConfigError(f"dtype must be a float dtype, but got dtype={dtype!r}")

    def lrkit_schedule(count: Any) -> Any:
        k = jnp.asarray(count).astype(float_dtype)
        out = schedule.evaluate(k, jnp)
        # constant pieces may come back as Python floats: give every result the count's shape
        return jnp.broadcast_to(jnp.asarray(out, dtype=float_dtype), k.shape)

    lrkit_schedule.__doc__ = f"optax schedule for {schedule!r}"
    lrkit_schedule.__qualname__ = lrkit_schedule.__name__ = f"lrkit_{schedule.name}"
    return lrkit_schedule
