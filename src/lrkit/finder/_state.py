"""Snapshot and restore everything a range test touches, in host memory."""

from __future__ import annotations

import copy
import random
from typing import Any

import numpy as np

__all__ = ["RNGState", "TrainingState"]

# Instance attributes that torch's LRScheduler patches onto an optimizer and sets on step().
_OPT_ATTRS = ("_opt_called",)


def _host(t: Any) -> Any:
    return t.detach().to("cpu", copy=True)


class _Saved:
    """A host copy of an optimizer-state tensor and the device it came from."""

    __slots__ = ("device", "value")

    def __init__(self, t: Any) -> None:
        self.value = _host(t)
        self.device = t.device


class RNGState:
    """Python, NumPy, torch CPU and (when in use) CUDA RNG states."""

    def __init__(self, *, cuda: bool) -> None:
        import torch

        self.python = random.getstate()
        self.numpy = np.random.get_state()
        self.torch = torch.get_rng_state()
        # Reading the CUDA RNG initialises CUDA: only do it when CUDA is (or will be) in use.
        self.cuda = None
        if torch.cuda.is_available() and (cuda or torch.cuda.is_initialized()):
            self.cuda = torch.cuda.get_rng_state_all()

    def restore(self) -> None:
        import torch

        random.setstate(self.python)
        np.random.set_state(self.numpy)
        torch.set_rng_state(self.torch)
        if self.cuda is not None:
            torch.cuda.set_rng_state_all(self.cuda)


class TrainingState:
    """Parameters (and their grads), buffers, train/eval flags and optimizer state.

    Copies live on the CPU, so the accelerator never holds a second copy of the model.
    Restoring writes in place where shapes agree, so tensor identities the user holds
    (parameters, optimizer state, param-group dicts) stay valid.
    """

    def __init__(self, model: Any, optimizer: Any) -> None:
        self.model = model
        self.optimizer = optimizer
        seen: set[int] = set()
        self.params: list[tuple[Any, Any, Any]] = []  # (param, value, grad or None)
        groups_params = [p for g in optimizer.param_groups for p in g["params"]]
        for p in [*model.parameters(), *groups_params]:
            if id(p) in seen:
                continue
            seen.add(id(p))
            grad = None if p.grad is None else _host(p.grad)
            self.params.append((p, _host(p), grad))
        # Buffers by name: Module.to() replaces buffer tensors, so identity is not enough.
        self.buffers = [(name, _host(b), b.device) for name, b in model.named_buffers()]
        self.training = [(m, m.training) for m in model.modules()]
        self.groups = [
            {
                k: (_host(v) if _is_tensor(v) else copy.deepcopy(v))
                for k, v in g.items()
                if k != "params"
            }
            for g in optimizer.param_groups
        ]
        self.state: list[tuple[Any, dict[str, Any]]] = []
        for p, st in optimizer.state.items():
            saved = {k: (_Saved(v) if _is_tensor(v) else copy.deepcopy(v)) for k, v in st.items()}
            self.state.append((p, saved))
        self.opt_attrs = {a: getattr(optimizer, a) for a in _OPT_ATTRS if hasattr(optimizer, a)}

    def restore(self) -> None:
        import torch

        with torch.no_grad():
            for p, value, grad in self.params:
                p.copy_(value)
                if grad is None:
                    p.grad = None
                elif p.grad is not None and p.grad.shape == grad.shape:
                    p.grad.copy_(grad)
                else:
                    p.grad = grad.to(p.device)
            for name, value, device in self.buffers:
                module_name, _, leaf = name.rpartition(".")
                module = self.model.get_submodule(module_name)
                cur = module._buffers.get(leaf)
                if cur is not None and cur.shape == value.shape and cur.dtype == value.dtype:
                    cur.copy_(value)
                else:
                    module._buffers[leaf] = value.to(device, copy=True)
        for m, flag in self.training:
            m.training = flag
        for g, saved in zip(self.optimizer.param_groups, self.groups):
            for k in [k for k in g if k != "params" and k not in saved]:
                del g[k]
            for k, v in saved.items():
                if _is_tensor(v) and _is_tensor(g.get(k)) and g[k].shape == v.shape:
                    with torch.no_grad():
                        g[k].copy_(v)
                else:
                    g[k] = v.clone() if _is_tensor(v) else copy.deepcopy(v)
        current = dict(self.optimizer.state)
        self.optimizer.state.clear()
        for p, saved in self.state:
            cur = current.get(p, {})
            new: dict[str, Any] = {}
            for k, v in saved.items():
                if isinstance(v, _Saved):
                    value, device = v.value, v.device
                    c = cur.get(k)
                    if (
                        _is_tensor(c)
                        and c.shape == value.shape
                        and c.dtype == value.dtype
                        and c.device == device
                    ):
                        with torch.no_grad():
                            c.copy_(value)
                        new[k] = c
                    else:
                        new[k] = value.to(device, copy=True)
                else:
                    new[k] = copy.deepcopy(v)
            self.optimizer.state[p] = new
        for a in _OPT_ATTRS:
            if a in self.opt_attrs:
                setattr(self.optimizer, a, self.opt_attrs[a])
            elif a in vars(self.optimizer):
                delattr(self.optimizer, a)


def _is_tensor(v: Any) -> bool:
    import torch

    return isinstance(v, torch.Tensor)
