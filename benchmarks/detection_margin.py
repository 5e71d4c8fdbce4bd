"""How far apart fresh initialisations and pretrained models sit for the finder's detection.

``lrkit.find_lr(regime="auto")`` calls a model pretrained when enough of its matrix weights have
a top singular value above a random matrix's edge sigma * (sqrt(rows) + sqrt(cols)) by a factor
(``lrkit.finder._finetune._SPIKE``). This prints, per architecture, the largest such ratio over
fresh PyTorch initialisations (3 seeds: every task of ``benchmarks/finder_regret.py``, the
fine-tuning tasks' architectures, common layers at common inits) and, per pretrained model of
``benchmarks/finetune_tasks.py``, its ratios, the share of weights above the factor and the
detection verdict. Saves ``benchmarks/results/detection_margin.json``.

    python benchmarks/detection_margin.py     # ~2 min on one core (builds the task caches)
"""

from __future__ import annotations

import json
import math
import sys
import warnings
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))


def ratios(model: Any) -> list[float]:
    from lrkit.finder._finetune_torch import spectra

    out = []
    for r, c, top, fro in spectra(model):
        if fro > 0:
            out.append(top / (fro / math.sqrt(r * c) * (math.sqrt(r) + math.sqrt(c))))
    return out


def main() -> None:
    import finetune_tasks as ft
    import heldout_tasks
    import torch
    from torch import nn

    from lrkit.finder._finetune import _SPIKE
    from lrkit.finder._finetune_torch import detect
    from lrkit.tasks import available, get_task

    warnings.filterwarnings("ignore")
    torch.set_num_threads(1)
    builders: dict[str, Any] = {f"builtin:{n}": get_task(n).make_model for n in available()}
    for n in ("digits_cnn", "mnist1d_bn_mlp", "digits_resmlp", "tabular_tanh_mlp"):
        builders[f"heldout:{n}"] = getattr(heldout_tasks, n)().make_model
    builders.update({
        "finetune-arch:char_lm": ft._char_lm,
        "finetune-arch:digit_cnn": lambda: ft._digit_cnn(5),
        "finetune-arch:mlp": lambda: ft._mlp([40, 256, 256, 10], nn.ReLU),
        "finetune-arch:gelu_mlp": lambda: ft._mlp([20, 128, 128, 6], nn.GELU),
        "finetune-arch:gru_lm": ft._gru_lm,
        "finetune-arch:bn_resmlp": lambda: ft._bn_resmlp(5),
        "finetune-arch:tfm_cls": lambda: ft._tfm_cls(7),
        "finetune-arch:conv1d_gn": lambda: ft._conv1d_gn(10),
        "nn.Transformer(256, 2+2 layers)": lambda: nn.Transformer(
            d_model=256, nhead=4, num_encoder_layers=2, num_decoder_layers=2
        ),
        "nn.LSTM(256, 512, 2)": lambda: nn.LSTM(256, 512, 2),
        "nn.Embedding(50000, 128)": lambda: nn.Embedding(50000, 128),
        "nn.Conv2d(64, 128, 3)": lambda: nn.Conv2d(64, 128, 3),
    })  # fmt: skip
    for shape in [(64, 64), (512, 512), (1024, 4096), (4096, 1024), (8, 1000)]:
        builders[f"nn.Linear{shape}"] = lambda s=shape: nn.Linear(s[1], s[0])

    def trunc(rows: int, cols: int) -> Any:
        lin = nn.Linear(cols, rows)
        nn.init.trunc_normal_(lin.weight, std=0.02)  # transformers' default init
        return lin

    builders["trunc_normal(0.02) 768x768"] = lambda: trunc(768, 768)
    fresh: dict[str, float] = {}
    for name, build in builders.items():
        worst = 0.0
        for seed in range(3):
            torch.manual_seed(seed)
            worst = max(worst, max(ratios(build()), default=0.0))
        fresh[name] = worst
        print(f"fresh  {name:40s} largest ratio {worst:.3f}", flush=True)
    pretrained: dict[str, Any] = {}
    for name in (*ft.CHOOSE, *ft.HELDOUT, *ft.FRESH2):
        torch.manual_seed(0)
        model = getattr(ft, name)().make_model()
        r, det = ratios(model), detect(model)
        pretrained[name] = {
            "ratios": [round(v, 3) for v in r],
            "trained_share": det.trained_share,
            "detected": det.pretrained,
        }
        print(
            f"pretrained {name:28s} ratios {min(r):.2f}-{max(r):.2f}  share above {_SPIKE:g}: "
            f"{det.trained_share:.0%}  detected: {det.pretrained}",
            flush=True,
        )
    top = max(fresh.values())
    print(f"largest ratio over every fresh initialisation: {top:.3f} (threshold {_SPIKE:g})")
    out = HERE / "results" / "detection_margin.json"
    out.write_text(json.dumps({"spike": _SPIKE, "fresh_max": top, "fresh": fresh,
                               "pretrained": pretrained}, indent=1))  # fmt: skip
    print(f"saved {out}")


if __name__ == "__main__":
    main()
