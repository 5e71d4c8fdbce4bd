"""``GuardCallback`` for the Hugging Face ``Trainer``: the torch ``Guard`` as a callback."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import torch
import transformers

from lrkit.integrations.torch import Guard
from lrkit.integrations.torch._guard import agreed_loss, grads_finite
from lrkit.integrations.torch._guard_holder import GuardHolder, TorchGuardOptions

if TYPE_CHECKING:
    from typing_extensions import Unpack

__all__ = ["GuardCallback"]


def _loss_of(output: Any) -> Any:
    if isinstance(output, dict) or hasattr(output, "keys"):
        return output.get("loss") if hasattr(output, "get") else None
    if isinstance(output, tuple | list) and output and isinstance(output[0], torch.Tensor):
        return output[0] if output[0].ndim == 0 else None
    return getattr(output, "loss", None)


class GuardCallback(transformers.TrainerCallback, GuardHolder):  # type: ignore[misc]
    """Skip the update and cut the LR on a NaN/inf or spiking loss; roll back when confirmed.

    The loss is read from the model's output (``output.loss``, as the Trainer reads it) by a
    forward hook and averaged over the micro-batches of the update; the gradients are checked
    for NaN/inf. Just before ``optimizer.step()`` (``on_pre_optimizer_step``) the decision comes
    from the same :class:`~lrkit.control.GuardPolicy` as :class:`lrkit.integrations.torch.Guard`:

    * **skip** (a first NaN/inf in ``patience`` updates, or a suspected spike while it waits to
      be confirmed): the gradients are dropped, so the optimizer changes nothing, and the
      scheduler step the Trainer takes next is undone in ``on_step_end``;
    * **rollback** (a confirmed spike, repeated NaNs): in ``on_step_end`` the model, the
      optimizer and the scheduler are restored from the newest host-memory snapshot and the LR
      is cut (``guard_scale`` of lrkit's :class:`~lrkit.integrations.torch.Scheduler`);
    * **stop**: :class:`lrkit.errors.GuardError` ends ``trainer.train()``.

    The Trainer's ``global_step`` still counts withheld updates; the scheduler does not, so
    update ``k`` of the weights runs at ``s(k)``. A model whose output has no loss (a custom
    ``compute_loss_func``) is judged on gradient finiteness only. Under ``torch.distributed``
    every rank judges the largest loss over the ranks, so all act at the same step. Keyword
    arguments as :class:`~lrkit.integrations.torch.Guard`.
    """

    def __init__(self, **options: Unpack[TorchGuardOptions]) -> None:
        self.hold_guard(**options)
        self._hook: Any = None
        self._losses: list[float] = []
        self._step = 0
        self._pending: tuple[int, float, float, str] | None = None
        self._sched_state: dict[str, Any] | None = None

    def _record(self, module: Any, args: Any, output: Any) -> None:
        if module.training:
            loss = _loss_of(output)
            if isinstance(loss, torch.Tensor) and loss.numel() == 1:
                self._losses.append(float(loss.detach().float().item()))

    def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        model, optimizer = kwargs["model"], kwargs["optimizer"]
        sched = kwargs.get("lr_scheduler")
        inner = getattr(optimizer, "optimizer", optimizer)  # accelerate's wrapper
        if self.guard is None or self.guard.model is not model or self.guard.optimizer is not inner:
            self.guard = Guard(model, inner, sched, **self._kw)
        if self._hook is not None:
            self._hook.remove()
        self._hook = model.register_forward_hook(self._record)

    def on_train_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if self._hook is not None:
            self._hook.remove()
            self._hook = None

    def on_pre_optimizer_step(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        guard = self.guard
        assert guard is not None
        step, self._step = self._step, self._step + 1
        losses, self._losses = self._losses, []
        # no loss to judge: gradient finiteness only (0 is never a spike)
        value = sum(losses) / len(losses) if losses else 0.0
        grads = [p.grad for g in guard.optimizer.param_groups for p in g["params"]]
        grads = [g for g in grads if g is not None]
        if grads and not grads_finite(grads):
            value = math.nan
        action = guard._decide(step, agreed_loss(value))
        withhold = action.kind == "rollback" or (
            action.kind == "continue" and bool(action.reason) and guard.skip_spikes
        )
        if action.kind == "rollback":
            self._pending = (step, value, action.scale, action.reason)
        if withhold:
            guard.optimizer.zero_grad(set_to_none=True)
            if guard.scheduler is not None:  # the Trainer steps it next: undone in on_step_end
                self._sched_state = guard.scheduler.state_dict()

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        guard = self.guard
        assert guard is not None
        if self._pending is not None:
            guard._rollback(*self._pending)
        elif self._sched_state is not None and guard.scheduler is not None:
            guard.scheduler.load_state_dict(self._sched_state)
        self._pending = None
        self._sched_state = None
