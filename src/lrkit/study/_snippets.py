"""How to use the study's winner: its schedule as lrkit text and short framework snippets.

The schedule text is ``repr`` of the schedule the study trained with, which
:func:`lrkit.schedules.parse` reads back; ``steps`` counts optimizer updates of the study's
runs, so a longer run rescales it. The snippets use lrkit's adapters
(:mod:`lrkit.integrations`), which apply the same closed form in each framework.
"""

from __future__ import annotations

from lrkit.tasks._schedules import build_schedule, plateau_patience

__all__ = ["schedule_text", "snippets"]

# lrkit optimizer name -> Keras constructor (the optimizers Keras ships).
_KERAS = {
    "adam": "keras.optimizers.Adam(learning_rate=lr)",
    "adamw": "keras.optimizers.AdamW(learning_rate=lr, weight_decay=0.01)",
    "sgd": "keras.optimizers.SGD(learning_rate=lr)",
    "sgd_momentum": "keras.optimizers.SGD(learning_rate=lr, momentum=0.9)",
}


def schedule_text(schedule: str, lr: float, total_updates: int) -> str:
    """``repr`` of the study's schedule ``schedule`` at peak ``lr`` over ``total_updates``.

    >>> schedule_text("cosine", 0.01, 500)
    'cosine(lr=0.01, steps=500)'
    """
    return repr(build_schedule(schedule, lr, total_updates))


def snippets(
    optimizer: str, schedule: str, lr: float, total_updates: int, epochs: int
) -> dict[str, str]:
    """PyTorch, Lightning and Keras code that trains with the winner's optimizer and schedule."""
    text = schedule_text(schedule, lr, total_updates)
    plateau = schedule == "plateau"
    rule = f"ReduceOnPlateau(factor=0.1, patience={plateau_patience(epochs)})"
    head = "from lrkit.optim import make\nfrom lrkit.schedules import parse\n" + (
        "from lrkit.control import ReduceOnPlateau\n" if plateau else ""
    )
    make_opt = f'make("{optimizer}", model.parameters(), lr={lr:.3g})'
    torch = (
        head + "from lrkit.integrations.torch import Scheduler\n\n"
        f"opt = {make_opt}\n"
        f'sched = Scheduler(opt, parse("{text}")'
        + (f", plateau={rule})\n" if plateau else ")\n")
        + (
            "# schedule-free: opt.eval() before evaluating, opt.train() after\n"
            if "schedulefree" in optimizer
            else ""
        )
        + "for epoch in range(epochs):\n"
        "    for x, y in loader:\n"
        "        loss = loss_fn(model(x), y)\n"
        "        opt.zero_grad()\n"
        "        loss.backward()\n"
        "        opt.step()\n"
        "        sched.step()  # after every optimizer.step()\n"
        + ("    sched.report(val_loss)  # once per epoch\n" if plateau else "")
    )
    lightning = (
        "import lightning as L\n"
        + head
        + "from lrkit.integrations.lightning import configure_optimizers\n\n"
        "class Model(L.LightningModule):\n"
        "    def configure_optimizers(self):\n"
        f"        opt = {make_opt.replace('model.', 'self.')}\n"
        f'        return configure_optimizers(opt, parse("{text}")'
        + (f', plateau={rule}, monitor="val_loss")\n' if plateau else ")\n")
    )
    keras_opt = _KERAS.get(optimizer)
    note = "" if keras_opt else f"# Keras has no {optimizer}; Adam shown, re-tune the LR for it.\n"
    keras = (
        "import keras\n"
        "from lrkit.schedules import parse\n"
        + ("from lrkit.control import ReduceOnPlateau\n" if plateau else "")
        + "from lrkit.integrations.keras import KerasSchedule"
        + (", PlateauCallback\n\n" if plateau else "\n\n")
        + note
        + f'lr = KerasSchedule(parse("{text}"))\n'
        + f"model.compile(optimizer={keras_opt or _KERAS['adam']}, loss=loss)\n"
        + (
            f"model.fit(x, y, validation_data=val, callbacks=[PlateauCallback({rule})])\n"
            if plateau
            else "model.fit(x, y, validation_data=val)\n"
        )
    )
    return {"pytorch": torch, "lightning": lightning, "keras": keras}
