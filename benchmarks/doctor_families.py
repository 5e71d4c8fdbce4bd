"""A development corpus for the doctor that is not the built-in tasks: 8 small task families.

Families (each a tiny model on generated or scikit-learn data, ~1 minute single-threaded):
``regression`` (MLP, MSE, Adam), ``tabular`` (MLP classifier, SGD+momentum), ``cnn`` (conv net
on 8x8 digits, plain SGD), ``batchnorm`` (MLP with BatchNorm, Adam), ``gru_lm`` (character
GRU language model on a Markov-chain text, Adam), ``transformer_lm`` (one causal attention
layer, AdamW), ``transformer_cls`` (attention + mean pool sequence classifier, Adam),
``finetune`` (MLP pretrained on digits 0-4, fine-tuned on 5-9, Adam).

Per family a constant-LR grid (half-decades) finds the best LR (lowest validation loss). Then
runs from 1/1000x to 10,000x that LR, constant and with schedules (warmup+cosine, one-cycle,
step, WSD, plateau cuts), plus small-data long runs (overfitting). **Labels come from the outcome
relative to the grid, never from the doctor's rules**: ``q`` = (initial val loss − the run's
best val loss) / (initial − grid-best val loss), the fraction of the achievable improvement:

    diverged      a non-finite loss, or the training loss ends above 2x its start
    lr_too_high   q < 0.7 and the peak LR above the best (x3 or more); q is taken on the log
                  scale (log(v0 / best of the run) / log(v0 / grid best))
    lr_too_low    q < 0.7 and the peak LR below the best (/3 or less)
    overfitting   q >= 0.9, the val loss ends >= 10% of its range above its minimum, reached
                  in the first 70% of the run, while the training loss keeps falling
    plateau       q >= 0.9, constant LR, and one more stretch of training at LR/10 lowers the
                  training loss >= 10% more than at LR (measured on a copy: "decay helps")
    healthy       q >= 0.9 otherwise
    (dropped)     0.7 <= q < 0.9, or q < 0.7 within x3 of the best (ambiguous)

Held out: ``lstm_cls`` (LSTM sequence classifier, Adam), ``autoencoder`` (MLP, MSE, RMSprop),
``logreg`` (softmax regression, plain SGD), 1200 steps each — named before the doctor ever ran
on them and never used to choose a rule (``--families lstm_cls,autoencoder,logreg``). A second fresh
draw, after one more rule change: ``conv1d`` (1-D CNN on synthetic waveforms, SGD + Nesterov),
``embbag`` (bag-of-tokens classifier, Adagrad), ``dropout_reg`` (dropout MLP, Huber loss, AdamW),
600 steps each (``--families conv1d,embbag,dropout_reg``). A third fresh draw (session 6, named
here before it was generated): ``gn_cnn`` (conv net with GroupNorm on 8x8 digits, SGD + momentum),
``multilabel`` (MLP with 5 independent sigmoid outputs, BCE loss, RMSprop), ``poisson`` (MLP for
counts, Poisson negative log-likelihood on a log-rate output, Adam), 600 steps each
(``--families gn_cnn,multilabel,poisson``). A fourth fresh draw (session 7, named here and
committed before it was generated): ``deep_tanh`` (6-layer tanh MLP regressor, MSE, Adamax),
``resnet_bn`` (small residual conv net with BatchNorm on 8x8 digits, SGD + Nesterov momentum),
``smooth_ce`` (MLP classifier, cross-entropy with label smoothing 0.1, AdamW), 600 steps each
(``--families deep_tanh,resnet_bn,smooth_ce``). A fifth fresh draw (session 7 round 2, named here and
committed before it was generated): ``quantile`` (MLP regressor on heteroscedastic data, pinball
loss at the 0.8 quantile, SGD + momentum), ``elman_rnn`` (vanilla tanh RNN regressing a decaying
weighted sum of a noisy sequence, MSE, RAdam), ``ln_mixer`` (residual MLP with LayerNorm and GELU
on flattened 8x8 digits, cross-entropy, NAdam), 600 steps each
(``--families quantile,elman_rnn,ln_mixer``). A sixth fresh draw (session 8, named here and
committed before it was generated): ``lstm_fc`` (LSTM one-step forecaster of a noisy two-tone
series from a 24-step window, MSE, Adam with AMSGrad), ``drop_cnn`` (2-D conv net with
Dropout2d and dropout on 8x8 digits, SGD + momentum 0.9 with weight decay 5e-4), ``clip_tf``
(two-layer pre-LayerNorm transformer sequence classifier, AdamW with weight decay 0.1 and the
gradient norm clipped at 1.0), 600 steps each (``--families lstm_fc,drop_cnn,clip_tf``). A seventh
fresh draw (session 13, named here and committed before it was generated): ``vae_digits`` (MLP
variational autoencoder on 8x8 digits, negative ELBO = Bernoulli reconstruction + KL per sample,
Adam), ``triplet_embed`` (MLP embedding of a synthetic clustered data set, triplet margin loss on
random in-batch triplets, validation on fixed held-out triplets, SGD + momentum 0.9),
``deepsets_reg`` (DeepSets: a per-element MLP, sum pooling and an MLP regressing a nonlinear
statistic of variable-size sets, MSE, AdamW with weight decay 0.01), 600 steps each
(``--families vae_digits,triplet_embed,deepsets_reg``). An eighth fresh draw (session 14, named here
and committed before it was generated): ``gauss_nll`` (heteroscedastic MLP regressor with a mean
and a variance head, Gaussian negative log-likelihood, which can go below zero, Adam),
``gnn_graph`` (graph neural network: two mean-aggregation message-passing layers over seeded
random 12-node graphs, mean readout, classifying which of three generators drew the graph,
cross-entropy, SGD + momentum 0.9), ``mf_rec`` (matrix-factorisation recommender: user and item
embeddings and biases, MSE on seeded synthetic low-rank ratings, RMSprop), 600 steps each
(``--families gauss_nll,gnn_graph,mf_rec``). A ninth fresh draw (session 14, named here and
committed before it was generated): ``hinge_svm`` (MLP classifier on a seeded tabular set trained
with the multi-class hinge loss of a support vector machine, ``MultiMarginLoss``, plain SGD
without momentum), ``seg_dice`` (a fully convolutional 2-D segmenter, no pooling and no U-Net
skip path, marking the disks among disks and distractor squares in noisy 16x16 images, per-pixel
BCE + soft Dice loss, Adam), ``distill_kd`` (knowledge distillation: a small student MLP trained
with the KL divergence to the temperature-2 soft targets of a fixed seeded teacher network,
AdamW with weight decay 0.01), 600 steps each (``--families hinge_svm,seg_dice,distill_kd``).
A tenth fresh draw (session 14, named here and committed before it was generated): ``rank_pair``
(learning to rank: an MLP scorer of seeded query/item feature pairs trained with the pairwise
margin-ranking loss, ``MarginRankingLoss`` with margin 1, on which of two items is more relevant
to the query, Adam), ``infonce`` (contrastive representation learning: one shared MLP encoder of
two noisy, randomly masked views of each seeded latent point, no projection head and no momentum
encoder, the symmetric InfoNCE loss at temperature 0.2 against the other 31 pairs of the batch,
SGD + Nesterov momentum 0.9), ``wide_deep`` (a wide-and-deep click-style classifier: a wide
linear part and an ``EmbeddingBag`` over six hashed categorical fields, plus a deep MLP over the
dense features and the bag, BCE on a binary label, Adagrad on the x10 grid), 600 steps each
(``--families rank_pair,infonce,wide_deep``). An eleventh fresh draw (session 15, named here and
committed before it was generated): ``flow_nvp`` (a tiny RealNVP normalizing flow: six affine
coupling layers with tanh-bounded log-scales, alternating masks, on seeded 4-D toy data, two
moons beside a noisy sine curve, exact negative log-likelihood per sample under a standard normal
base, Adam), ``diffusion_eps`` (a diffusion denoiser: an MLP with a sinusoidal time embedding
predicting the noise added to seeded 8-D data on a curved 2-D manifold at random noise levels of
a cosine schedule, epsilon-MSE, the validation noise drawn once from a fixed seed, AdamW with
weight decay 0.01), ``ctc_gru`` (a CTC sequence model: a one-layer GRU over seeded 24-frame
sequences of noisy label prototypes, separated by noise frames, emitting 2-4-symbol label strings
over 6 symbols and a blank, ``CTCLoss``, SGD + momentum 0.9 on the x10 grid), 600 steps each
(``--families flow_nvp,diffusion_eps,ctc_gru``). A twelfth fresh draw (session 15, named here and
committed before it was generated): ``mdn_mix`` (a mixture density network: an MLP whose output
is a 3-component 1-D Gaussian mixture, mixing logits, means and softplus scales, for a seeded
multimodal inverse regression, the input recovered from a noisy sine-warped observation, mixture
negative log-likelihood, which can go below zero, Adam), ``seq2seq_attn`` (an encoder-decoder: a
GRU encoder, a GRU decoder with dot-product attention over the encoder states, on seeded integer
sequences of length 10 over 12 symbols learning to reverse them, teacher forcing from a
begin-of-sequence token, token cross-entropy, AdamW with weight decay 0.01), ``multitask`` (a
multi-task MLP: one shared trunk, a regression head with MSE and a 4-class classification head
with cross-entropy on a seeded tabular set, the two losses summed, SGD + momentum 0.9 with weight
decay 5e-4 on the x10 grid), 600 steps each (``--families mdn_mix,seq2seq_attn,multitask``).
A thirteenth fresh draw (session 15, named here and committed before it was generated): ``tcn_fc``
(a temporal convolutional forecaster: four causal 1-D convolutions with dilations 1, 2, 4 and 8
and residual connections over 48-step windows of seeded multi-seasonal series, periods near 6 and
17 with drifting amplitudes, a trend and noise, predicting the next 4 values, mean absolute error,
``L1Loss``, RMSprop), ``focal_bin`` (a binary MLP classifier trained with the focal loss, gamma 2,
no class weight, on a seeded imbalanced tabular set with 10% positives, Adam with AMSGrad),
``vit_digits`` (a small vision transformer on 8x8 digits: 2x2 patch embedding into 16 tokens, a
learnt CLS token and position embedding, two pre-LayerNorm encoder blocks with GELU, the CLS
token classified, cross-entropy, SGD + Nesterov momentum 0.9 on the x10 grid), 600 steps each
(``--families tcn_fc,focal_bin,vit_digits``).

Each run is written in one format, rotating: Lightning ``metrics.csv``, per-step CSV, HF
``trainer_state.json`` (loss averaged over 10 steps), Keras CSVLogger (per epoch), mixed JSON
Lines, W&B history CSV, MLflow run folder, TensorBoard.

    python benchmarks/doctor_families.py --out DIR      # writes DIR/index.json + the logs
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import os
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

FAMILIES = ["regression", "tabular", "cnn", "batchnorm", "gru_lm", "transformer_lm",
            "transformer_cls", "finetune"]  # fmt: skip
# Held out (named here before the doctor ever ran on them; never used to choose a rule): an LSTM
# sequence classifier (Adam), an MLP autoencoder (MSE, RMSprop), softmax regression (plain SGD),
# each trained 4x longer (1200 steps, so per-step logs hold 1200 points).
HELDOUT_FAMILIES = ["lstm_cls", "autoencoder", "logreg"]
LONG_STEPS = 1200
# A second fresh draw (session 5, named here after the rules were frozen and before the doctor ran
# on them): a 1-D CNN on synthetic waveforms (SGD + Nesterov momentum), a bag-of-tokens
# classifier (EmbeddingBag, Adagrad), a dropout MLP regressor (Huber loss, AdamW); 600 steps.
HELDOUT2_FAMILIES = ["conv1d", "embbag", "dropout_reg"]
MID_STEPS = 600
# A third fresh draw (session 6, named here before it was generated; the doctor runs on it once,
# with the rules frozen): a conv net with GroupNorm on 8x8 digits (SGD + momentum), a multi-label
# MLP (5 sigmoid outputs, BCE, RMSprop), a count regression MLP (Poisson NLL, Adam); 600 steps.
HELDOUT3_FAMILIES = ["gn_cnn", "multilabel", "poisson"]
# A fourth fresh draw (session 7, named and committed here before it was generated; the doctor
# runs on it once, with the rules frozen): a deep tanh MLP regressor (6 layers, MSE, Adamax), a
# small residual conv net with BatchNorm on 8x8 digits (SGD + Nesterov), an MLP classifier
# trained with label-smoothed cross-entropy (0.1, AdamW); 600 steps.
HELDOUT4_FAMILIES = ["deep_tanh", "resnet_bn", "smooth_ce"]
# A fifth fresh draw (session 7 round 2, named and committed here before it was generated; the doctor runs
# on it once, with the rules frozen): an MLP regressor with the pinball (0.8-quantile) loss
# (SGD + momentum), a vanilla tanh RNN sequence regressor (MSE, RAdam), a residual LayerNorm/GELU
# MLP classifier on flattened digits (NAdam); 600 steps.
HELDOUT5_FAMILIES = ["quantile", "elman_rnn", "ln_mixer"]
# A sixth fresh draw (session 8, named and committed here before it was generated; the doctor runs on
# it once, with the rules frozen): an LSTM forecaster of a noisy series (MSE, Adam + AMSGrad), a
# conv net with dropout on digits (SGD + momentum, weight decay), a two-layer pre-LN transformer
# classifier (AdamW, weight decay 0.1, gradient clipping at norm 1.0); 600 steps.
HELDOUT6_FAMILIES = ["lstm_fc", "drop_cnn", "clip_tf"]
# A seventh fresh draw (session 13, named and committed here before it was generated; the doctor runs
# on it once, with the rules frozen): an MLP VAE on 8x8 digits (negative ELBO = reconstruction + KL
# per sample, Adam), an MLP embedding trained with a triplet margin loss on a synthetic clustered
# data set (random in-batch triplets; validation on fixed held-out triplets; SGD + momentum 0.9), a
# DeepSets regressor of a nonlinear statistic of variable-size sets (MSE, AdamW, weight decay 0.01);
# 600 steps.
HELDOUT7_FAMILIES = ["vae_digits", "triplet_embed", "deepsets_reg"]
# An eighth fresh draw (session 14, named and committed here before it was generated; the doctor
# runs on it once, with the rules frozen): a heteroscedastic MLP regressor with the Gaussian
# negative log-likelihood (mean and variance heads; the loss can go negative; Adam), a graph
# neural network classifying seeded random graphs by their generator (mean-aggregation message
# passing, SGD + momentum 0.9), a matrix-factorisation recommender on synthetic low-rank ratings
# (user/item embeddings and biases, MSE, RMSprop); 600 steps.
HELDOUT8_FAMILIES = ["gauss_nll", "gnn_graph", "mf_rec"]
# A ninth fresh draw (session 14, named and committed here before it was generated; the doctor
# runs on it once, with the rules frozen): an MLP classifier with the multi-class hinge (SVM)
# loss on a seeded tabular set (plain SGD, no momentum), a fully convolutional 2-D segmenter of
# disks among distractor squares in noisy 16x16 images (per-pixel BCE + soft Dice, Adam), a
# student MLP distilled from a fixed seeded teacher's temperature-2 soft targets (KL divergence,
# AdamW, weight decay 0.01); 600 steps.
HELDOUT9_FAMILIES = ["hinge_svm", "seg_dice", "distill_kd"]
# A tenth fresh draw (session 14, named and committed here before it was generated; the doctor
# runs on it once, with the rules frozen): an MLP scorer of query/item pairs trained with the
# pairwise margin-ranking loss (Adam), a shared MLP encoder of two noisy masked views trained with
# the symmetric in-batch InfoNCE loss at temperature 0.2 (SGD + Nesterov momentum 0.9), a
# wide-and-deep classifier over hashed categorical fields (EmbeddingBag) and dense features (BCE,
# Adagrad); 600 steps.
HELDOUT10_FAMILIES = ["rank_pair", "infonce", "wide_deep"]
# An eleventh fresh draw (session 15, named and committed here before it was generated; the doctor
# runs on it once, with the rules frozen): a tiny RealNVP normalizing flow on 4-D toy data (affine
# coupling layers, negative log-likelihood, Adam), a diffusion denoiser MLP with a time embedding
# predicting the added noise on 8-D manifold data (epsilon-MSE, AdamW), a GRU trained with the CTC
# loss to emit label strings from noisy frame sequences (SGD + momentum 0.9); 600 steps.
HELDOUT11_FAMILIES = ["flow_nvp", "diffusion_eps", "ctc_gru"]
# A twelfth fresh draw (session 15, named and committed here before it was generated; the doctor
# runs on it once, with the rules frozen): a mixture density network (an MLP emitting a 3-component
# 1-D Gaussian mixture for a multimodal inverse regression, mixture NLL, Adam), a GRU
# encoder-decoder with dot-product attention learning to reverse integer sequences (teacher
# forcing, token cross-entropy, AdamW), a multi-task MLP (shared trunk, an MSE regression head and
# a cross-entropy classification head, losses summed, SGD + momentum 0.9, weight decay); 600 steps.
HELDOUT12_FAMILIES = ["mdn_mix", "seq2seq_attn", "multitask"]
# A thirteenth fresh draw (session 15, named and committed here before it was generated; the doctor
# runs on it once, with the rules frozen): a dilated causal temporal conv net forecasting the next
# 4 values of seeded multi-seasonal series (L1 loss, RMSprop), a binary MLP classifier with the
# focal loss (gamma 2) on an imbalanced tabular set, 10% positives (Adam + AMSGrad), a small vision
# transformer on 8x8 digits (2x2 patches, CLS token, two pre-LN blocks, cross-entropy, SGD +
# Nesterov momentum 0.9); 600 steps.
HELDOUT13_FAMILIES = ["tcn_fc", "focal_bin", "vit_digits"]
ALL_FAMILIES = (
    FAMILIES
    + HELDOUT_FAMILIES
    + HELDOUT2_FAMILIES
    + HELDOUT3_FAMILIES
    + HELDOUT4_FAMILIES
    + HELDOUT5_FAMILIES
    + HELDOUT6_FAMILIES
    + HELDOUT7_FAMILIES
    + HELDOUT8_FAMILIES
    + HELDOUT9_FAMILIES
    + HELDOUT10_FAMILIES
    + HELDOUT11_FAMILIES
    + HELDOUT12_FAMILIES
    + HELDOUT13_FAMILIES
)
GRID = [10.0**e for e in np.arange(-4.0, -0.99, 0.5)]  # Adam-type; SGD: x10
FACTORS = [1e-2, 0.1, 1.0, 3.0, 10.0, 100.0, 1e3]
# the families whose grid is 10x the Adam-type one: SGD, and wide_deep's Adagrad (embbag's Adagrad
# had its grid best at the top edge of the Adam-type grid)
SGD_FAMILIES = ("tabular", "cnn", "logreg", "conv1d", "gn_cnn", "resnet_bn", "quantile",
                "drop_cnn", "triplet_embed", "gnn_graph", "hinge_svm", "infonce",
                "wide_deep", "ctc_gru", "multitask", "vit_digits")  # fmt: skip
SCHEDULES = ["warmup_cosine", "onecycle", "step", "wsd", "plateau_cuts"]
FORMATS = ["lightning", "csv", "hf", "keras", "jsonl", "wandb", "mlflow", "tensorboard"]
STEPS, BATCH, N_TRAIN = 300, 32, 640  # 20 steps per epoch, 15 epochs

_CACHE: dict[str, Any] = {}


# ----------------------------------------------------------------------------- data + models


def _markov_text(seed: int, n: int, vocab: int = 16, length: int = 16) -> Any:
    import torch

    rng = np.random.default_rng(seed)
    trans = rng.dirichlet(np.full(vocab, 0.3), size=(vocab, vocab))  # order-2 chain
    seqs = np.zeros((n, length + 1), dtype=np.int64)
    seqs[:, :2] = rng.integers(0, vocab, (n, 2))
    for t in range(2, length + 1):
        p = trans[seqs[:, t - 2], seqs[:, t - 1]]
        seqs[:, t] = (p.cumsum(1) > rng.random((n, 1))).argmax(1)
    return torch.tensor(seqs)


def _data(family: str) -> dict[str, Any]:
    import torch
    from sklearn.datasets import load_digits, make_classification

    if family in _CACHE:
        return _CACHE[family]
    g = np.random.default_rng(7)
    if family == "regression":
        x = g.normal(size=(N_TRAIN + 1000, 8)).astype(np.float32)
        w1, w2 = g.normal(size=8), g.normal(size=8)
        y = (np.sin(x @ w1) + 0.3 * (x @ w2) ** 2 + 0.1 * g.normal(size=len(x))).astype(np.float32)
        d = {"x": torch.tensor(x), "y": torch.tensor(y)[:, None]}
    elif family in ("tabular", "batchnorm"):
        k = 4 if family == "tabular" else 6
        x, y = make_classification(N_TRAIN + 1000, 20, n_informative=10, n_classes=k,
                                   class_sep=1.0, flip_y=0.05, random_state=3)  # fmt: skip
        d = {"x": torch.tensor(x, dtype=torch.float32), "y": torch.tensor(y)}
    elif family in ("cnn", "finetune", "gn_cnn", "resnet_bn", "drop_cnn", "vit_digits"):
        dg = load_digits()
        x = torch.tensor(dg.images / 16.0, dtype=torch.float32)[:, None]
        y = torch.tensor(dg.target)
        if family == "finetune":
            hi = y >= 5
            d = {"x": x[hi].flatten(1), "y": y[hi] - 5, "pre_x": x[~hi].flatten(1), "pre_y": y[~hi]}
        else:
            d = {"x": x, "y": y}
    elif family in ("gru_lm", "transformer_lm"):
        s = _markov_text(11 if family == "gru_lm" else 12, N_TRAIN + 300)
        d = {"x": s[:, :-1], "y": s[:, 1:]}
    elif family == "conv1d":
        t = np.linspace(0, 1, 48, dtype=np.float32)
        k = g.integers(0, 4, N_TRAIN + 1000)
        freq = np.array([3.0, 5.0, 7.0, 9.0], dtype=np.float32)[k] * g.uniform(0.9, 1.1, len(k))
        phase = g.uniform(0, 2 * np.pi, len(k))
        x = np.sin(2 * np.pi * freq[:, None] * t[None] + phase[:, None]) + 0.8 * g.normal(
            size=(len(k), 48)
        )
        d = {"x": torch.tensor(x, dtype=torch.float32)[:, None], "y": torch.tensor(k)}
    elif family == "embbag":
        x = torch.tensor(g.integers(0, 50, (N_TRAIN + 1000, 15)))
        w = torch.tensor(g.normal(size=(50, 4)), dtype=torch.float32)
        d = {"x": x, "y": w[x].sum(1).argmax(1)}
    elif family == "dropout_reg":
        x = g.normal(size=(N_TRAIN + 1000, 12)).astype(np.float32)
        y = np.tanh(x[:, :4].sum(1)) * 3 + 0.5 * x[:, 4] * x[:, 5] + 0.3 * g.standard_t(3, len(x))
        d = {"x": torch.tensor(x), "y": torch.tensor(y.astype(np.float32))[:, None]}
    elif family == "multilabel":
        x = g.normal(size=(N_TRAIN + 1000, 16)).astype(np.float32)
        w = g.normal(size=(16, 5)) / 2
        logits = x @ w + 0.5 * np.sin(2 * x[:, :5]) + 0.5 * g.logistic(size=(len(x), 5))
        d = {"x": torch.tensor(x), "y": torch.tensor((logits > 0.3).astype(np.float32))}
    elif family == "poisson":
        x = g.normal(size=(N_TRAIN + 1000, 10)).astype(np.float32)
        rate = np.exp(0.6 * np.tanh(x[:, :3].sum(1)) + 0.4 * x[:, 3] * x[:, 4] / 2 + 1.0)
        d = {"x": torch.tensor(x), "y": torch.tensor(g.poisson(rate).astype(np.float32))[:, None]}
    elif family == "deep_tanh":
        x = g.uniform(-2, 2, size=(N_TRAIN + 1000, 6)).astype(np.float32)
        y = np.cos(x[:, 0] * x[:, 1]) + np.abs(x[:, 2]) - 0.5 * x[:, 3] * x[:, 4] + 0.2 * x[:, 5]
        y = y + 0.2 * g.normal(size=len(x))
        d = {"x": torch.tensor(x), "y": torch.tensor(y.astype(np.float32))[:, None]}
    elif family == "smooth_ce":
        x, y = make_classification(N_TRAIN + 1000, 24, n_informative=8, n_redundant=4,
                                   n_classes=7, n_clusters_per_class=1, class_sep=1.2,
                                   flip_y=0.03, random_state=17)  # fmt: skip
        d = {"x": torch.tensor(x, dtype=torch.float32), "y": torch.tensor(y)}
    elif family == "quantile":
        x = g.normal(size=(N_TRAIN + 1000, 8)).astype(np.float32)
        scale = 0.3 + np.abs(x[:, 1]) + 0.5 * (x[:, 2] > 0)
        y = np.sin(x[:, 0] * 1.5) + 0.5 * x[:, 3] * x[:, 4] + scale * g.standard_normal(len(x))
        d = {"x": torch.tensor(x), "y": torch.tensor(y.astype(np.float32))[:, None]}
    elif family == "elman_rnn":
        x = g.normal(size=(N_TRAIN + 1000, 15)).astype(np.float32)
        w = 0.8 ** np.arange(15)[::-1]
        y = np.tanh(x @ w / 2) * 2 + 0.3 * x[:, -1] * x[:, -2] + 0.1 * g.normal(size=len(x))
        d = {"x": torch.tensor(x)[:, :, None], "y": torch.tensor(y.astype(np.float32))[:, None]}
    elif family == "lstm_fc":
        n, w = N_TRAIN + 1000, 24
        t0 = g.uniform(0, 200, n)[:, None] + np.arange(w + 1)[None]
        f1, f2 = g.uniform(0.15, 0.35, (n, 1)), g.uniform(0.6, 0.9, (n, 1))
        s = np.sin(f1 * t0) + 0.5 * np.sin(f2 * t0 + 1.0) + 0.15 * g.normal(size=t0.shape)
        x = s[:, :w, None].astype(np.float32)
        d = {"x": torch.tensor(x), "y": torch.tensor(s[:, w:].astype(np.float32))}
    elif family == "clip_tf":
        x = torch.tensor(g.integers(0, 12, (N_TRAIN + 300, 16)))
        second = x[:, 8:]
        counts = torch.stack([(second == t).sum(1) for t in range(4)], 1)
        d = {"x": x, "y": (counts + 0.1 * torch.arange(4)).argmax(1)}
    elif family == "vae_digits":
        dg = load_digits()
        x = torch.tensor(dg.data / 16.0, dtype=torch.float32)
        d = {"x": x, "y": x}
    elif family == "triplet_embed":
        k, n = 10, N_TRAIN + 1000
        c = g.normal(size=(k, 4)) * 1.2
        lab = g.integers(0, k, n)
        z = c[lab] + g.normal(size=(n, 4))
        w1, w2 = g.normal(size=(4, 16)), g.normal(size=(16, 16)) / 4
        x = np.tanh(z @ w1 / 2) @ w2 + z @ w1 / 4 + 0.3 * g.normal(size=(n, 16))
        d = {"x": torch.tensor(x.astype(np.float32)), "y": torch.tensor(lab)}
    elif family == "deepsets_reg":
        n, m = N_TRAIN + 1000, 20
        sizes = g.integers(3, m + 1, n)
        e = g.normal(size=(n, m, 3))
        mask = (np.arange(m)[None] < sizes[:, None]).astype(np.float64)
        e = e * mask[:, :, None]
        y = 2 * np.tanh((e[:, :, 0] * e[:, :, 1]).sum(1) / 3) + 0.15 * np.abs(e[:, :, 2]).sum(1)
        y = y - 0.15 * sizes * np.sqrt(2 / np.pi) + 0.1 * g.normal(size=n)
        x = np.concatenate([e, mask[:, :, None]], 2).astype(np.float32)  # last channel: mask
        d = {"x": torch.tensor(x), "y": torch.tensor(y.astype(np.float32))[:, None]}
    elif family == "gauss_nll":
        x = g.normal(size=(N_TRAIN + 1000, 6)).astype(np.float32)
        mean = np.sin(1.5 * x[:, 0]) + 0.5 * x[:, 1] * x[:, 2] + 0.3 * x[:, 5]
        std = 0.15 + 0.8 / (1 + np.exp(-2 * x[:, 3])) + 0.3 * np.abs(x[:, 4])
        y = mean + std * g.standard_normal(len(x))
        d = {"x": torch.tensor(x), "y": torch.tensor(y.astype(np.float32))[:, None]}
    elif family == "gnn_graph":
        d = _random_graphs(g, N_TRAIN + 1000)
    elif family == "mf_rec":
        users, items, rank = 50, 40, 3
        u, v = g.normal(size=(users, rank)), g.normal(size=(items, rank))
        bu, bi = 0.5 * g.normal(size=users), 0.5 * g.normal(size=items)
        cells = g.permutation(users * items)[: N_TRAIN + 1000]
        ui, ii = cells // items, cells % items
        r = 3.0 + bu[ui] + bi[ii] + (u[ui] * v[ii]).sum(1) / np.sqrt(rank)
        r = r + 0.4 * g.normal(size=len(cells))
        d = {"x": torch.tensor(np.stack([ui, ii], 1)), "y": torch.tensor(r.astype(np.float32))}
    elif family == "hinge_svm":
        x, y = make_classification(N_TRAIN + 1000, 16, n_informative=8, n_redundant=3,
                                   n_classes=5, n_clusters_per_class=2, class_sep=1.0,
                                   flip_y=0.05, random_state=29)  # fmt: skip
        d = {"x": torch.tensor(x, dtype=torch.float32), "y": torch.tensor(y)}
    elif family == "seg_dice":
        d = _shapes_masks(g, N_TRAIN + 400)
    elif family == "distill_kd":
        x = g.normal(size=(N_TRAIN + 1000, 12))
        w1, w2, w3 = g.normal(size=(12, 64)), g.normal(size=(64, 64)), g.normal(size=(64, 6))
        h = np.tanh(x @ w1 / np.sqrt(12) * 1.5)
        h = np.tanh(h @ w2 / np.sqrt(64) * 1.5)
        logits = h @ w3 / np.sqrt(64) * 4.0  # the fixed teacher; soft targets at temperature 2
        p = np.exp(logits / 2 - (logits / 2).max(1, keepdims=True))
        p = p / p.sum(1, keepdims=True)
        d = {"x": torch.tensor(x.astype(np.float32)), "y": torch.tensor(p.astype(np.float32))}
    elif family == "rank_pair":
        d = _rank_pairs(g, N_TRAIN + 1000)
    elif family == "infonce":
        n = N_TRAIN + 1000
        z = g.normal(size=(n, 8))
        a, b = g.normal(size=(8, 24)) / np.sqrt(8) * 2, g.normal(size=(8, 24)) / np.sqrt(8)
        clean = np.tanh(z @ a) + 0.5 * (z @ b)
        views = clean[:, None] * (g.random((n, 2, 24)) < 0.8) + 0.4 * g.normal(size=(n, 2, 24))
        d = {"x": torch.tensor(views.astype(np.float32)), "y": torch.zeros(n)}
    elif family == "wide_deep":
        d = _wide_deep_data(g, N_TRAIN + 1000)
    elif family == "flow_nvp":  # two moons beside a noisy sine curve, each pair standardised
        n = N_TRAIN + 1000
        upper = g.random(n) < 0.5
        ang = g.uniform(0, np.pi, n)
        moons = np.where(upper[:, None], np.stack([np.cos(ang), np.sin(ang)], 1),
                         np.stack([1 - np.cos(ang), 0.5 - np.sin(ang)], 1))  # fmt: skip
        moons = moons + 0.08 * g.normal(size=(n, 2))
        u = g.uniform(-2, 2, n)
        curve = np.stack([u, np.sin(2 * u) + 0.15 * g.normal(size=n)], 1)
        x = np.concatenate([moons, curve], 1)
        x = (x - x.mean(0)) / x.std(0)
        d = {"x": torch.tensor(x.astype(np.float32)), "y": torch.zeros(n)}
    elif family == "diffusion_eps":  # 8-D data on a curved 2-D manifold, lightly noised
        n = N_TRAIN + 1000
        centers = np.array([[1.5, 0.0], [-1.5, 0.0], [0.0, 1.5], [0.0, -1.5]])
        z = centers[g.integers(0, 4, n)] + 0.35 * g.normal(size=(n, 2))
        a, b = g.normal(size=(2, 8)), g.normal(size=(2, 8)) / 2
        x = np.tanh(z @ a) + np.sin(z @ b) + 0.05 * g.normal(size=(n, 8))
        x = (x - x.mean(0)) / x.std(0)
        d = {"x": torch.tensor(x.astype(np.float32)), "y": torch.zeros(n)}
    elif family == "ctc_gru":
        d = _ctc_sequences(g, N_TRAIN + 1000)
    elif family == "mdn_mix":  # the inverse of a sine-warped line: one to three modes per input
        n = N_TRAIN + 1000
        t = g.uniform(0, 1, n)
        obs = t + 0.3 * np.sin(2 * np.pi * t) + g.uniform(-0.1, 0.1, n)
        x = ((obs - obs.mean()) / obs.std())[:, None]
        y = ((t - t.mean()) / t.std())[:, None]
        d = {"x": torch.tensor(x.astype(np.float32)), "y": torch.tensor(y.astype(np.float32))}
    elif family == "seq2seq_attn":
        d = _reverse_pairs(g, N_TRAIN + 1000)
    elif family == "multitask":
        d = _multitask_data(g, N_TRAIN + 1000)
    elif family == "tcn_fc":
        d = _seasonal_windows(g, N_TRAIN + 1000)
    elif family == "focal_bin":  # 10% positives
        x, y = make_classification(N_TRAIN + 1000, 16, n_informative=6, n_redundant=4,
                                   n_clusters_per_class=2, weights=[0.9], class_sep=0.8,
                                   flip_y=0.02, random_state=43)  # fmt: skip
        d = {"x": torch.tensor(x, dtype=torch.float32),
             "y": torch.tensor(y, dtype=torch.float32)[:, None]}  # fmt: skip
    elif family == "ln_mixer":
        dg = load_digits()
        d = {"x": torch.tensor(dg.data / 16.0, dtype=torch.float32), "y": torch.tensor(dg.target)}
    elif family == "lstm_cls":
        x = torch.tensor(g.integers(0, 8, (N_TRAIN + 300, 20)))
        counts = torch.stack([(x == t).sum(1) for t in range(3)], 1)
        d = {"x": x, "y": counts.argmax(1)}
    elif family == "autoencoder":
        dg = load_digits()
        x = torch.tensor(dg.data / 16.0, dtype=torch.float32)
        d = {"x": x, "y": x}
    elif family == "logreg":
        x, y = make_classification(N_TRAIN + 1000, 30, n_informative=12, n_classes=5,
                                   class_sep=0.8, flip_y=0.02, random_state=5)  # fmt: skip
        d = {"x": torch.tensor(x, dtype=torch.float32), "y": torch.tensor(y)}
    elif family == "transformer_cls":
        x = torch.tensor(g.integers(0, 10, (N_TRAIN + 300, 12)))
        c3, c7 = (x == 3).sum(1), (x == 7).sum(1)
        d = {"x": x, "y": (c3 > c7).long() + (c3 >= c7).long()}
    else:
        raise ValueError(family)
    n = len(d["x"])
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(0))
    tr, va = perm[: min(N_TRAIN, n - 200)], perm[min(N_TRAIN, n - 200) :][:1000]
    out = {"xt": d["x"][tr], "yt": d["y"][tr], "xv": d["x"][va], "yv": d["y"][va]}
    if family == "finetune":
        out["pre"] = (d["pre_x"], d["pre_y"])
    if family == "triplet_embed":  # fixed held-out triplets: (anchor, positive, negative)
        xv, yv = out["xv"], out["yv"]
        a = torch.tensor(g.integers(0, len(yv), 1000))
        same = yv[:, None] == yv[None]
        r = torch.tensor(g.random((1000, len(yv))))
        pos = torch.where(same[a] & (torch.arange(len(yv))[None] != a[:, None]), r, -1.0).argmax(1)
        neg = torch.where(~same[a], r, -1.0).argmax(1)
        out["xv"] = torch.stack([xv[a], xv[pos], xv[neg]], 1)
        out["yv"] = yv[a]
    _CACHE[family] = out
    return out


def _random_graphs(g: Any, n: int, nodes: int = 12) -> dict[str, Any]:
    """Graphs drawn by one of three generators (the class) with an overlapping mean degree:
    Erdos-Renyi, a two-block stochastic block model, a random geometric graph. Each graph is
    packed as its adjacency matrix next to its node features (degree / 4 and two noise channels):
    a (nodes, nodes + 3) tensor."""
    import torch

    xs, ys = [], []
    for _ in range(n):
        k = int(g.integers(0, 3))
        p = g.uniform(0.18, 0.32)
        if k == 0:
            a = g.random((nodes, nodes)) < p
        elif k == 1:
            block = np.arange(nodes) < nodes // 2
            same = block[:, None] == block[None]
            a = g.random((nodes, nodes)) < np.where(same, 1.7 * p, 0.3 * p)
        else:
            pos = g.random((nodes, 2))
            dist = np.linalg.norm(pos[:, None] - pos[None], axis=-1)
            a = dist < np.sqrt(p / np.pi) * 1.1
        a = np.triu(a, 1)
        a = (a | a.T).astype(np.float32)
        perm = g.permutation(nodes)
        a = a[perm][:, perm]
        feat = np.concatenate([a.sum(1, keepdims=True) / 4, g.normal(size=(nodes, 2))], 1)
        xs.append(np.concatenate([a, feat], 1))
        ys.append(k)
    return {"x": torch.tensor(np.array(xs, dtype=np.float32)), "y": torch.tensor(ys)}


def _rank_pairs(g: Any, n: int, dim: int = 6) -> dict[str, Any]:
    """Query/item pairs: a query and two items (feature vectors), the label +1 when the first
    item is the more relevant to the query under a fixed nonlinear relevance with noise, else -1.
    Packed as (n, 2, 2 * dim): the query next to each item."""
    import torch

    w = g.normal(size=(dim, dim)) / np.sqrt(dim)
    u, v = g.normal(size=dim), g.normal(size=dim)

    def rel(q: Any, it: Any) -> Any:
        bilinear = np.tanh(np.einsum("ni,ij,nj->n", q, w, it))
        return bilinear + 0.5 * np.sin(it @ u) * (q @ v > 0) - 0.1 * (it**2).sum(1)

    q, a, b = g.normal(size=(n, dim)), g.normal(size=(n, dim)), g.normal(size=(n, dim))
    diff = rel(q, a) - rel(q, b) + 0.25 * g.normal(size=n)
    x = np.stack([np.concatenate([q, a], 1), np.concatenate([q, b], 1)], 1)
    y = np.where(diff > 0, 1.0, -1.0)
    return {"x": torch.tensor(x.astype(np.float32)), "y": torch.tensor(y.astype(np.float32))}


def _wide_deep_data(g: Any, n: int, buckets: int = 97) -> dict[str, Any]:
    """Six categorical fields (cardinalities 3 to 20) hashed into one shared space of ``buckets``
    ids (collisions included), eight dense features; a binary label from sparse per-value
    effects, one field x dense interaction and a nonlinear dense part, with logistic noise.
    Packed as (n, 6 + 8) floats: the six hashed ids, then the dense features."""
    import torch

    cards = [3, 5, 8, 12, 16, 20]
    cats = np.stack([g.integers(0, c, n) for c in cards], 1)
    effects = [g.normal(size=c) * 0.8 for c in cards]
    dense = g.normal(size=(n, 8))
    logit = sum(effects[f][cats[:, f]] for f in range(6))
    logit = logit + 0.8 * dense[:, 0] * np.where(cats[:, 0] % 2 == 0, 1.0, -1.0)
    logit = logit + np.sin(1.5 * dense[:, 1]) + 0.5 * dense[:, 2] * dense[:, 3] - 0.3
    y = (logit + g.logistic(size=n) > 0).astype(np.float32)
    hashed = (np.arange(6)[None] * 1009 + cats * 31 + 7) % buckets
    x = np.concatenate([hashed, dense], 1).astype(np.float32)
    return {"x": torch.tensor(x), "y": torch.tensor(y)[:, None]}


def _ctc_sequences(g: Any, n: int, frames: int = 24, feats: int = 10,
                   symbols: int = 6) -> dict[str, Any]:  # fmt: skip
    """Sequences of ``frames`` noisy feature frames: 2-4 labels (1..``symbols``; 0 is CTC's
    blank), each shown as 2-3 frames of its fixed prototype plus noise, separated by 0-2
    noise-only frames (at least one between two equal labels) after a 0-2-frame lead-in, padded
    with noise frames. The target is packed as (n, 5) ids: the length, then the labels, 0-padded."""
    import torch

    protos = g.normal(size=(symbols + 1, feats)) * 1.2
    protos[0] = 0.0  # a gap frame is noise around zero
    xs = np.zeros((n, frames, feats))
    ys = np.zeros((n, 5), dtype=np.int64)
    for i in range(n):
        length = int(g.integers(2, 5))
        labels = g.integers(1, symbols + 1, length)
        t = int(g.integers(0, 3))
        for j, lab in enumerate(labels):
            if j:
                t += int(g.integers(1 if labels[j - 1] == lab else 0, 3))
            dur = int(g.integers(2, 4))
            xs[i, t : t + dur] = protos[lab]
            t += dur
        ys[i, 0], ys[i, 1 : 1 + length] = length, labels
    xs = xs + 0.7 * g.normal(size=xs.shape)
    return {"x": torch.tensor(xs.astype(np.float32)), "y": torch.tensor(ys)}


def _reverse_pairs(g: Any, n: int, length: int = 10, vocab: int = 12) -> dict[str, Any]:
    """Integer sequences (symbols 1..``vocab``) and their reversal. ``x`` packs, per sample, the
    source and the teacher-forced decoder input (a begin token 0, then the target shifted right):
    (n, 2, length); ``y`` is the reversed source (symbols as 0..``vocab``-1)."""
    import torch

    src = g.integers(1, vocab + 1, (n, length))
    tgt = src[:, ::-1]
    dec_in = np.concatenate([np.zeros((n, 1), dtype=np.int64), tgt[:, :-1]], 1)
    x = np.stack([src, dec_in], 1)
    return {"x": torch.tensor(x.astype(np.int64)), "y": torch.tensor((tgt - 1).astype(np.int64))}


def _multitask_data(g: Any, n: int, dim: int = 14) -> dict[str, Any]:
    """Tabular rows whose latent factors drive both tasks: a noisy nonlinear regression target and a
    4-class label (the argmax of noisy class scores). ``y`` packs (n, 2): the target, the class id."""
    import torch

    z = g.normal(size=(n, 5))
    mix = g.normal(size=(5, dim)) / np.sqrt(5)
    x = np.tanh(z @ mix) + 0.3 * z @ mix + 0.4 * g.normal(size=(n, dim))
    reg = np.sin(1.5 * z[:, 0]) + 0.5 * z[:, 1] * z[:, 2] + 0.3 * z[:, 3] + 0.25 * g.normal(size=n)
    w = g.normal(size=(5, 4))
    scores = z @ w + 0.8 * np.abs(z[:, 4:5]) * np.arange(4)[None] / 3
    cls = (scores + g.gumbel(size=(n, 4))).argmax(1)
    y = np.stack([reg, cls], 1)
    return {"x": torch.tensor(x.astype(np.float32)), "y": torch.tensor(y.astype(np.float32))}


def _seasonal_windows(g: Any, n: int, window: int = 48, horizon: int = 4) -> dict[str, Any]:
    """Windows of seeded multi-seasonal series: two seasonalities (periods near 6 and 17 steps,
    random phases, slowly drifting amplitudes), a small random trend and noise. ``x`` is the
    window (n, 1, window), ``y`` the next ``horizon`` values (n, horizon); each window is shifted
    by its own last value so that the level carries no information."""
    import torch

    t = np.arange(window + horizon)[None].astype(np.float64)
    p1, p2 = g.uniform(5.5, 6.5, (n, 1)), g.uniform(15.0, 19.0, (n, 1))
    drift = 1 + 0.3 * np.sin(2 * np.pi * t / 90 + g.uniform(0, 6, (n, 1)))
    a1 = g.uniform(0.5, 1.5, (n, 1)) * drift
    a2 = g.uniform(0.3, 1.0, (n, 1))
    s = (a1 * np.sin(2 * np.pi * t / p1 + g.uniform(0, 2 * np.pi, (n, 1)))
         + a2 * np.sin(2 * np.pi * t / p2 + g.uniform(0, 2 * np.pi, (n, 1)))
         + g.normal(0, 0.02, (n, 1)) * t + 0.2 * g.normal(size=(n, window + horizon)))  # fmt: skip
    s = s - s[:, window - 1 : window]
    x = s[:, None, :window]
    return {"x": torch.tensor(x.astype(np.float32)),
            "y": torch.tensor(s[:, window:].astype(np.float32))}  # fmt: skip


def _shapes_masks(g: Any, n: int, size: int = 16) -> dict[str, Any]:
    """Noisy size x size images holding one to three disks (the class to segment) and one to
    three squares of the same brightness (distractors); the target is the disks' pixel mask."""
    import torch

    yy, xx = np.mgrid[:size, :size]
    xs, ms = [], []
    for _ in range(n):
        img = np.zeros((size, size))
        mask = np.zeros((size, size))
        for _ in range(int(g.integers(1, 4))):
            cy, cx, r = g.uniform(2, size - 2), g.uniform(2, size - 2), g.uniform(1.5, 3.5)
            disk = (yy - cy) ** 2 + (xx - cx) ** 2 <= r**2
            mask = np.maximum(mask, disk)
            img = np.maximum(img, disk * g.uniform(0.6, 1.0))
        for _ in range(int(g.integers(1, 4))):
            h = int(g.integers(3, 7))
            y0, x0 = int(g.integers(0, size - h)), int(g.integers(0, size - h))
            sq = (yy >= y0) & (yy < y0 + h) & (xx >= x0) & (xx < x0 + h)
            mask = np.where(sq, 0.0, mask)
            img = np.where(sq, g.uniform(0.6, 1.0), img)
        xs.append(img + 0.35 * g.normal(size=(size, size)))
        ms.append(mask)
    x = torch.tensor(np.array(xs, dtype=np.float32))[:, None]
    return {"x": x, "y": torch.tensor(np.array(ms, dtype=np.float32))[:, None]}


def _model(family: str, seed: int) -> Any:
    import torch
    from torch import nn

    torch.manual_seed(seed)
    if family == "regression":
        return nn.Sequential(
            nn.Linear(8, 64), nn.Tanh(), nn.Linear(64, 64), nn.Tanh(), nn.Linear(64, 1)
        )
    if family == "tabular":
        return nn.Sequential(nn.Linear(20, 64), nn.ReLU(), nn.Linear(64, 4))
    if family == "batchnorm":
        return nn.Sequential(nn.Linear(20, 64), nn.BatchNorm1d(64), nn.ReLU(), nn.Linear(64, 64),
                             nn.BatchNorm1d(64), nn.ReLU(), nn.Linear(64, 6))  # fmt: skip
    if family == "cnn":
        return nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 16, 3, padding=1),
                             nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(16 * 16, 10))  # fmt: skip
    if family == "finetune":
        body = _pretrained()
        m = nn.Sequential(*[copy.deepcopy(layer) for layer in body[:-1]], nn.Linear(64, 5))
        return m
    if family == "gru_lm":
        return _GRULM()
    if family == "lstm_cls":
        return _LSTMCls()
    if family == "conv1d":
        return nn.Sequential(nn.Conv1d(1, 8, 5, padding=2), nn.ReLU(), nn.MaxPool1d(2),
                             nn.Conv1d(8, 16, 5, padding=2), nn.ReLU(), nn.AdaptiveAvgPool1d(4),
                             nn.Flatten(), nn.Linear(64, 4))  # fmt: skip
    if family == "embbag":
        return _EmbBag()
    if family == "gn_cnn":
        return nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.GroupNorm(2, 8), nn.ReLU(),
                             nn.Conv2d(8, 16, 3, padding=1), nn.GroupNorm(4, 16), nn.ReLU(),
                             nn.MaxPool2d(2), nn.Flatten(), nn.Linear(16 * 16, 10))  # fmt: skip
    if family == "multilabel":
        return nn.Sequential(nn.Linear(16, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(),
                             nn.Linear(64, 5))  # fmt: skip
    if family == "poisson":
        return nn.Sequential(nn.Linear(10, 64), nn.Tanh(), nn.Linear(64, 1))
    if family == "deep_tanh":
        layers: list[Any] = [nn.Linear(6, 32), nn.Tanh()]
        for _ in range(4):
            layers += [nn.Linear(32, 32), nn.Tanh()]
        return nn.Sequential(*layers, nn.Linear(32, 1))
    if family == "resnet_bn":
        return _ResNetBN()
    if family == "smooth_ce":
        return nn.Sequential(nn.Linear(24, 96), nn.ReLU(), nn.Linear(96, 48), nn.ReLU(),
                             nn.Linear(48, 7))  # fmt: skip
    if family == "quantile":
        return nn.Sequential(nn.Linear(8, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(),
                             nn.Linear(64, 1))  # fmt: skip
    if family == "elman_rnn":
        return _ElmanRNN()
    if family == "ln_mixer":
        return _LNMixer()
    if family == "lstm_fc":
        return _LSTMForecast()
    if family == "drop_cnn":
        return nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.Dropout2d(0.1),
                             nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                             nn.Flatten(), nn.Dropout(0.3), nn.Linear(32 * 16, 10))  # fmt: skip
    if family == "clip_tf":
        return _PreLNTransformer()
    if family == "vae_digits":
        return _VAE()
    if family == "triplet_embed":
        return nn.Sequential(nn.Linear(16, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(),
                             nn.Linear(64, 8))  # fmt: skip
    if family == "deepsets_reg":
        return _DeepSets()
    if family == "gauss_nll":  # two outputs: the mean and the (pre-softplus) variance
        return nn.Sequential(nn.Linear(6, 32), nn.ReLU(), nn.Linear(32, 32), nn.ReLU(),
                             nn.Linear(32, 2))  # fmt: skip
    if family == "gnn_graph":
        return _MeanGNN()
    if family == "mf_rec":
        return _MatFact()
    if family == "hinge_svm":
        return nn.Sequential(nn.Linear(16, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(),
                             nn.Linear(64, 5))  # fmt: skip
    if family == "seg_dice":  # fully convolutional, no pooling, no skip path; one logit a pixel
        return nn.Sequential(nn.Conv2d(1, 12, 3, padding=1), nn.ReLU(),
                             nn.Conv2d(12, 12, 3, padding=2, dilation=2), nn.ReLU(),
                             nn.Conv2d(12, 12, 3, padding=1), nn.ReLU(),
                             nn.Conv2d(12, 1, 1))  # fmt: skip
    if family == "distill_kd":  # the student: far smaller than the teacher
        return nn.Sequential(nn.Linear(12, 24), nn.ReLU(), nn.Linear(24, 6))
    if family == "rank_pair":  # one score per (query, item); applied to both items of a pair
        return nn.Sequential(nn.Linear(12, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(),
                             nn.Linear(64, 1), nn.Flatten(1))  # fmt: skip
    if family == "infonce":  # one encoder shared by both views (applied on the last axis)
        return nn.Sequential(nn.Linear(24, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(),
                             nn.Linear(64, 16))  # fmt: skip
    if family == "wide_deep":
        return _WideDeep()
    if family == "flow_nvp":
        return _RealNVP()
    if family == "diffusion_eps":
        return _EpsDenoiser()
    if family == "ctc_gru":
        return _CTCGRU()
    if family == "mdn_mix":  # 3 mixing logits, 3 means, 3 (pre-softplus) scales
        return nn.Sequential(nn.Linear(1, 48), nn.Tanh(), nn.Linear(48, 48), nn.Tanh(),
                             nn.Linear(48, 9))  # fmt: skip
    if family == "seq2seq_attn":
        return _Seq2SeqAttn()
    if family == "multitask":
        return _MultiTask()
    if family == "tcn_fc":
        return _TCN()
    if family == "focal_bin":  # one logit
        return nn.Sequential(nn.Linear(16, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(),
                             nn.Linear(64, 1))  # fmt: skip
    if family == "vit_digits":
        return _ViT()
    if family == "dropout_reg":
        return nn.Sequential(nn.Linear(12, 64), nn.ReLU(), nn.Dropout(0.2), nn.Linear(64, 64),
                             nn.ReLU(), nn.Dropout(0.2), nn.Linear(64, 1))  # fmt: skip
    if family == "autoencoder":
        return nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 8), nn.ReLU(),
                             nn.Linear(8, 32), nn.ReLU(), nn.Linear(32, 64))  # fmt: skip
    if family == "logreg":
        return nn.Linear(30, 5)
    if family == "transformer_lm":
        return _TinyTransformer(vocab=16, classes=16, causal=True)
    if family == "transformer_cls":
        return _TinyTransformer(vocab=10, classes=3, causal=False)
    raise ValueError(family)


def _pretrained() -> Any:
    import torch
    from torch import nn

    if "pretrained" not in _CACHE:
        torch.manual_seed(123)
        m = nn.Sequential(
            nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 5)
        )
        x, y = _data("finetune")["pre"]
        opt = torch.optim.Adam(m.parameters(), 1e-3)
        for _ in range(600):
            idx = torch.randint(0, len(x), (64,))
            loss = nn.functional.cross_entropy(m(x[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
        _CACHE["pretrained"] = m
    return _CACHE["pretrained"]


def _torch_modules() -> tuple[Any, Any]:
    import torch
    from torch import nn

    return torch, nn


class _GRULM:  # built lazily so that importing this script needs no torch
    def __new__(cls) -> Any:
        _, nn = _torch_modules()

        class GRULM(nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.emb = nn.Embedding(16, 24)
                self.gru = nn.GRU(24, 32, batch_first=True)
                self.out = nn.Linear(32, 16)

            def forward(self, x: Any) -> Any:
                return self.out(self.gru(self.emb(x))[0])

        return GRULM()


class _EmbBag:
    def __new__(cls) -> Any:
        _, nn = _torch_modules()

        class EmbBag(nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.bag = nn.EmbeddingBag(50, 16, mode="mean")
                self.out = nn.Linear(16, 4)

            def forward(self, x: Any) -> Any:
                return self.out(self.bag(x))

        return EmbBag()


class _ResNetBN:
    def __new__(cls) -> Any:
        _, nn = _torch_modules()

        class Block(nn.Module):
            def __init__(self, c: int) -> None:
                super().__init__()
                self.f = nn.Sequential(nn.Conv2d(c, c, 3, padding=1, bias=False),
                                       nn.BatchNorm2d(c), nn.ReLU(),
                                       nn.Conv2d(c, c, 3, padding=1, bias=False),
                                       nn.BatchNorm2d(c))  # fmt: skip
                self.act = nn.ReLU()

            def forward(self, x: Any) -> Any:
                return self.act(x + self.f(x))

        return nn.Sequential(nn.Conv2d(1, 12, 3, padding=1, bias=False), nn.BatchNorm2d(12),
                             nn.ReLU(), Block(12), nn.MaxPool2d(2), Block(12),
                             nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(12, 10))  # fmt: skip


class _ElmanRNN:
    def __new__(cls) -> Any:
        _, nn = _torch_modules()

        class ElmanRNN(nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.rnn = nn.RNN(1, 24, batch_first=True, nonlinearity="tanh")
                self.out = nn.Linear(24, 1)

            def forward(self, x: Any) -> Any:
                return self.out(self.rnn(x)[0][:, -1])

        return ElmanRNN()


class _LNMixer:
    def __new__(cls) -> Any:
        _, nn = _torch_modules()

        class Block(nn.Module):
            def __init__(self, c: int) -> None:
                super().__init__()
                self.f = nn.Sequential(nn.LayerNorm(c), nn.Linear(c, 2 * c), nn.GELU(),
                                       nn.Linear(2 * c, c))  # fmt: skip

            def forward(self, x: Any) -> Any:
                return x + self.f(x)

        return nn.Sequential(nn.Linear(64, 48), Block(48), Block(48), nn.LayerNorm(48),
                             nn.Linear(48, 10))  # fmt: skip


class _LSTMForecast:
    def __new__(cls) -> Any:
        _, nn = _torch_modules()

        class LSTMForecast(nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.lstm = nn.LSTM(1, 32, batch_first=True)
                self.out = nn.Linear(32, 1)

            def forward(self, x: Any) -> Any:
                return self.out(self.lstm(x)[0][:, -1])

        return LSTMForecast()


class _PreLNTransformer:
    def __new__(cls) -> Any:
        torch, nn = _torch_modules()

        class PreLN(nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.emb = nn.Embedding(12, 32)
                self.pos = nn.Parameter(torch.randn(16, 32) * 0.02)
                layer = nn.TransformerEncoderLayer(32, 4, 64, dropout=0.0, batch_first=True,
                                                   norm_first=True)  # fmt: skip
                self.enc = nn.TransformerEncoder(layer, 2, enable_nested_tensor=False)
                self.norm = nn.LayerNorm(32)
                self.out = nn.Linear(32, 4)

            def forward(self, x: Any) -> Any:
                h = self.enc(self.emb(x) + self.pos[: x.shape[1]])
                return self.out(self.norm(h).mean(1))

        return PreLN()


class _VAE:
    def __new__(cls) -> Any:
        torch, nn = _torch_modules()

        class VAE(nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.enc = nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 2 * 8))
                self.dec = nn.Sequential(nn.Linear(8, 128), nn.ReLU(), nn.Linear(128, 64))

            def forward(self, x: Any) -> Any:
                mu, logvar = self.enc(x).chunk(2, 1)
                if self.training:
                    eps = torch.randn_like(mu)
                else:  # a fixed draw: the validation ELBO is a deterministic estimate
                    g = torch.Generator().manual_seed(0)
                    eps = torch.randn(mu.shape, generator=g)
                z = mu + eps * (0.5 * logvar).exp()
                return self.dec(z), mu, logvar

        return VAE()


class _DeepSets:
    def __new__(cls) -> Any:
        _, nn = _torch_modules()

        class DeepSets(nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.phi = nn.Sequential(nn.Linear(3, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU())
                self.rho = nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 1))

            def forward(self, x: Any) -> Any:
                h = self.phi(x[..., :3]) * x[..., 3:]  # padding elements masked out
                return self.rho(h.sum(1))

        return DeepSets()


class _MeanGNN:
    def __new__(cls) -> Any:
        torch, nn = _torch_modules()

        class MeanGNN(nn.Module):
            def __init__(self, nodes: int = 12, feats: int = 3, hidden: int = 32) -> None:
                super().__init__()
                self.nodes = nodes
                self.self1 = nn.Linear(feats, hidden)
                self.nb1 = nn.Linear(feats, hidden, bias=False)
                self.self2 = nn.Linear(hidden, hidden)
                self.nb2 = nn.Linear(hidden, hidden, bias=False)
                self.out = nn.Sequential(nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, 3))

            def forward(self, x: Any) -> Any:
                a, h = x[..., : self.nodes], x[..., self.nodes :]
                deg = a.sum(-1, keepdim=True).clamp(min=1.0)
                h = torch.relu(self.self1(h) + self.nb1(a @ h / deg))  # mean over neighbours
                h = torch.relu(self.self2(h) + self.nb2(a @ h / deg))
                return self.out(h.mean(1))  # mean readout over the nodes

        return MeanGNN()


class _MatFact:
    def __new__(cls) -> Any:
        torch, nn = _torch_modules()

        class MatFact(nn.Module):
            def __init__(self, users: int = 50, items: int = 40, dim: int = 4) -> None:
                super().__init__()
                self.u, self.v = nn.Embedding(users, dim), nn.Embedding(items, dim)
                self.bu, self.bi = nn.Embedding(users, 1), nn.Embedding(items, 1)
                for e in (self.u, self.v):
                    nn.init.normal_(e.weight, std=0.1)
                for e in (self.bu, self.bi):
                    nn.init.zeros_(e.weight)
                self.mu = nn.Parameter(torch.zeros(1))

            def forward(self, x: Any) -> Any:
                u, i = x[:, 0], x[:, 1]
                dot = (self.u(u) * self.v(i)).sum(1)
                return dot + self.bu(u)[:, 0] + self.bi(i)[:, 0] + self.mu

        return MatFact()


class _WideDeep:
    def __new__(cls) -> Any:
        torch, nn = _torch_modules()

        class WideDeep(nn.Module):
            def __init__(self, buckets: int = 97, fields: int = 6, dense: int = 8) -> None:
                super().__init__()
                self.fields = fields
                self.wide = nn.EmbeddingBag(buckets, 1, mode="sum")  # a linear model on one-hots
                self.bag = nn.EmbeddingBag(buckets, 8, mode="mean")
                self.deep = nn.Sequential(nn.Linear(dense + 8, 64), nn.ReLU(), nn.Linear(64, 32),
                                          nn.ReLU(), nn.Linear(32, 1))  # fmt: skip
                self.dense_w = nn.Linear(dense, 1)
                nn.init.zeros_(self.wide.weight)  # the wide part starts as no effect
                nn.init.normal_(self.bag.weight, std=0.1)

            def forward(self, x: Any) -> Any:
                ids, dense = x[:, : self.fields].long(), x[:, self.fields :]
                deep = self.deep(torch.cat([dense, self.bag(ids)], 1))
                return self.wide(ids) + self.dense_w(dense) + deep

        return WideDeep()


class _RealNVP:
    def __new__(cls) -> Any:
        torch, nn = _torch_modules()

        class RealNVP(nn.Module):
            """Affine couplings y = m x + (1 - m)(x exp(s) + t), s and t from the masked x; the
            last layer of each coupling net starts at zero (the flow starts as the identity)."""

            def __init__(self, dim: int = 4, layers: int = 6, hidden: int = 48) -> None:
                super().__init__()
                pats = [[1, 1, 0, 0], [1, 0, 1, 0], [1, 0, 0, 1]]
                masks = []
                for k in range(layers):
                    m = torch.tensor(pats[(k // 2) % 3], dtype=torch.float32)
                    masks.append(m if k % 2 == 0 else 1 - m)
                self.register_buffer("masks", torch.stack(masks))
                self.nets = nn.ModuleList()
                for _ in range(layers):
                    net = nn.Sequential(nn.Linear(dim, hidden), nn.ReLU(),
                                        nn.Linear(hidden, hidden), nn.ReLU(),
                                        nn.Linear(hidden, 2 * dim))  # fmt: skip
                    nn.init.zeros_(net[-1].weight)
                    nn.init.zeros_(net[-1].bias)
                    self.nets.append(net)

            def forward(self, x: Any) -> Any:
                logdet = torch.zeros(len(x))
                for m, net in zip(self.masks, self.nets):
                    s, t = net(x * m).chunk(2, 1)
                    s = torch.tanh(s) * (1 - m)
                    x = x * m + (1 - m) * (x * s.exp() + t)
                    logdet = logdet + s.sum(1)
                return x, logdet

        return RealNVP()


class _EpsDenoiser:
    def __new__(cls) -> Any:
        torch, nn = _torch_modules()

        class EpsDenoiser(nn.Module):
            """Draws a noise level t ~ U(0, 1) and the noise per sample (from the global RNG while
            training, from a fixed seed in eval mode), noises the clean batch with the cosine
            schedule and predicts the noise; returns (prediction, noise)."""

            def __init__(self, dim: int = 8, hidden: int = 96) -> None:
                super().__init__()
                self.register_buffer("freqs", torch.tensor([1.0, 2.0, 4.0, 8.0, 16.0, 32.0]))
                self.net = nn.Sequential(nn.Linear(dim + 12, hidden), nn.SiLU(),
                                         nn.Linear(hidden, hidden), nn.SiLU(),
                                         nn.Linear(hidden, hidden), nn.SiLU(),
                                         nn.Linear(hidden, dim))  # fmt: skip

            def forward(self, x0: Any) -> Any:
                gen = None if self.training else torch.Generator().manual_seed(0)
                t = torch.rand((len(x0), 1), generator=gen)
                eps = torch.randn(x0.shape, generator=gen)
                abar = torch.cos((t + 0.008) / 1.008 * math.pi / 2) ** 2
                xt = abar.sqrt() * x0 + (1 - abar).sqrt() * eps
                emb = torch.cat([torch.sin(t * self.freqs), torch.cos(t * self.freqs)], 1)
                return self.net(torch.cat([xt, emb], 1)), eps

        return EpsDenoiser()


class _CTCGRU:
    def __new__(cls) -> Any:
        _, nn = _torch_modules()

        class CTCGRU(nn.Module):
            def __init__(self, feats: int = 10, hidden: int = 48, classes: int = 7) -> None:
                super().__init__()
                self.gru = nn.GRU(feats, hidden, batch_first=True)
                self.out = nn.Linear(hidden, classes)  # class 0: the blank

            def forward(self, x: Any) -> Any:
                return self.out(self.gru(x)[0]).log_softmax(-1)

        return CTCGRU()


class _Seq2SeqAttn:
    def __new__(cls) -> Any:
        torch, nn = _torch_modules()

        class Seq2SeqAttn(nn.Module):
            """A GRU encoder over the source; a GRU decoder over the teacher-forced input, each
            decoder state attending (scaled dot product) over the encoder states; the output layer
            reads the decoder state and the attended context."""

            def __init__(self, vocab: int = 12, hidden: int = 32) -> None:
                super().__init__()
                self.src_emb = nn.Embedding(vocab + 1, 16)
                self.tgt_emb = nn.Embedding(vocab + 1, 16)
                self.enc = nn.GRU(16, hidden, batch_first=True)
                self.dec = nn.GRU(16, hidden, batch_first=True)
                self.out = nn.Sequential(nn.Linear(2 * hidden, hidden), nn.Tanh(),
                                         nn.Linear(hidden, vocab))  # fmt: skip

            def forward(self, x: Any) -> Any:
                e, h = self.enc(self.src_emb(x[:, 0]))
                s = self.dec(self.tgt_emb(x[:, 1]), h)[0]
                att = (s @ e.transpose(1, 2) / math.sqrt(e.shape[-1])).softmax(-1)
                return self.out(torch.cat([s, att @ e], -1))

        return Seq2SeqAttn()


class _MultiTask:
    def __new__(cls) -> Any:
        torch, nn = _torch_modules()

        class MultiTask(nn.Module):
            def __init__(self, dim: int = 14, hidden: int = 64) -> None:
                super().__init__()
                self.trunk = nn.Sequential(nn.Linear(dim, hidden), nn.ReLU(),
                                           nn.Linear(hidden, hidden), nn.ReLU())  # fmt: skip
                self.reg = nn.Linear(hidden, 1)
                self.cls = nn.Linear(hidden, 4)

            def forward(self, x: Any) -> Any:
                h = self.trunk(x)
                return torch.cat([self.reg(h), self.cls(h)], 1)  # (n, 1 + 4)

        return MultiTask()


class _TCN:
    def __new__(cls) -> Any:
        torch, nn = _torch_modules()

        class TCN(nn.Module):
            """Causal dilated 1-D convolutions (kernel 3, dilations 1, 2, 4, 8: a receptive field
            of 31 steps), residual after the first; the last time step's features read out the
            next values."""

            def __init__(self, channels: int = 24, horizon: int = 4) -> None:
                super().__init__()
                self.inp = nn.Conv1d(1, channels, 1)
                self.convs = nn.ModuleList(
                    nn.Conv1d(channels, channels, 3, dilation=d) for d in (1, 2, 4, 8)
                )
                self.out = nn.Linear(channels, horizon)

            def forward(self, x: Any) -> Any:
                h = self.inp(x)
                for conv in self.convs:
                    pad = 2 * conv.dilation[0]
                    h = h + torch.relu(conv(nn.functional.pad(h, (pad, 0))))
                return self.out(h[:, :, -1])

        return TCN()


class _ViT:
    def __new__(cls) -> Any:
        torch, nn = _torch_modules()

        class ViT(nn.Module):
            """2x2 patches of an 8x8 image embedded into 16 tokens, a CLS token, learnt positions,
            two pre-LayerNorm encoder blocks (2 heads, GELU MLP), a final LayerNorm; the CLS token
            is classified."""

            def __init__(self, dim: int = 32, classes: int = 10) -> None:
                super().__init__()
                self.patch = nn.Conv2d(1, dim, 2, stride=2)
                self.cls = nn.Parameter(torch.zeros(1, 1, dim))
                self.pos = nn.Parameter(torch.randn(1, 17, dim) * 0.02)
                kw = {"dropout": 0.0, "activation": "gelu", "batch_first": True, "norm_first": True}
                self.blocks = nn.ModuleList(
                    nn.TransformerEncoderLayer(dim, 2, 2 * dim, **kw) for _ in range(2)
                )
                self.norm = nn.LayerNorm(dim)
                self.head = nn.Linear(dim, classes)

            def forward(self, x: Any) -> Any:
                h = self.patch(x).flatten(2).transpose(1, 2)  # (n, 16, dim)
                h = torch.cat([self.cls.expand(len(h), -1, -1), h], 1) + self.pos
                for block in self.blocks:
                    h = block(h)
                return self.head(self.norm(h[:, 0]))

        return ViT()


class _LSTMCls:
    def __new__(cls) -> Any:
        _, nn = _torch_modules()

        class LSTMCls(nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.emb = nn.Embedding(8, 16)
                self.lstm = nn.LSTM(16, 32, batch_first=True)
                self.out = nn.Linear(32, 3)

            def forward(self, x: Any) -> Any:
                return self.out(self.lstm(self.emb(x))[0][:, -1])

        return LSTMCls()


class _TinyTransformer:
    def __new__(cls, vocab: int, classes: int, causal: bool) -> Any:
        torch, nn = _torch_modules()

        class Tiny(nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.emb = nn.Embedding(vocab, 32)
                self.pos = nn.Parameter(torch.randn(32, 32) * 0.02)
                self.layer = nn.TransformerEncoderLayer(32, 2, 64, dropout=0.0, batch_first=True)
                self.out = nn.Linear(32, classes)

            def forward(self, x: Any) -> Any:
                n = x.shape[1]
                h = self.emb(x) + self.pos[:n]
                mask = nn.Transformer.generate_square_subsequent_mask(n) if causal else None
                h = self.layer(h, src_mask=mask, is_causal=causal)
                return self.out(h if causal else h.mean(1))

        return Tiny()


def _loss(family: str, out: Any, y: Any) -> Any:
    import torch
    import torch.nn.functional as F

    if family in ("regression", "autoencoder", "elman_rnn", "lstm_fc", "deepsets_reg"):
        return F.mse_loss(out, y)
    if family == "vae_digits":  # negative ELBO per sample: Bernoulli reconstruction + KL
        logits, mu, logvar = out
        rec = F.binary_cross_entropy_with_logits(logits, y, reduction="sum") / len(y)
        kl = -0.5 * (1 + logvar - mu**2 - logvar.exp()).sum() / len(y)
        return rec + kl
    if family == "triplet_embed":
        return _triplet_loss(out, y)
    if family == "gauss_nll":  # the variance through softplus; the loss can go below zero
        return F.gaussian_nll_loss(out[:, :1], y, F.softplus(out[:, 1:]) + 1e-4)
    if family == "mf_rec":
        return F.mse_loss(out, y)
    if family == "hinge_svm":  # the multi-class SVM hinge loss (margin 1)
        return F.multi_margin_loss(out, y)
    if family == "seg_dice":  # per-pixel BCE + (1 - soft Dice) per image
        p = out.sigmoid()
        inter = (p * y).sum((1, 2, 3))
        dice = (2 * inter + 1.0) / (p.sum((1, 2, 3)) + y.sum((1, 2, 3)) + 1.0)
        return F.binary_cross_entropy_with_logits(out, y) + (1 - dice).mean()
    if family == "distill_kd":  # KL(teacher || student) at temperature 2, scaled by T^2
        return F.kl_div(F.log_softmax(out / 2, 1), y, reduction="batchmean") * 4
    if family == "rank_pair":  # pairwise margin ranking: y = +1 when the first item ranks higher
        return F.margin_ranking_loss(out[:, 0], out[:, 1], y, margin=1.0)
    if family == "infonce":
        return _infonce_loss(out)
    if family == "wide_deep":
        return F.binary_cross_entropy_with_logits(out, y)
    if family == "flow_nvp":  # exact NLL per sample (nats) under the standard normal base
        z, logdet = out
        log_pz = -0.5 * (z**2).sum(1) - 0.5 * z.shape[1] * math.log(2 * math.pi)
        return -(log_pz + logdet).mean()
    if family == "diffusion_eps":
        pred, eps = out
        return F.mse_loss(pred, eps)
    if family == "ctc_gru":  # out: (n, frames, classes) log-probabilities; y: length, labels
        frames = torch.full((len(out),), out.shape[1], dtype=torch.long)
        return F.ctc_loss(out.transpose(0, 1), y[:, 1:], frames, y[:, 0], blank=0)
    if family == "mdn_mix":  # mixture NLL per sample (nats); scales through softplus
        logit, mu, pre = out.chunk(3, 1)
        sigma = F.softplus(pre) + 1e-3
        comp = -0.5 * ((y - mu) / sigma) ** 2 - sigma.log() - 0.5 * math.log(2 * math.pi)
        return -torch.logsumexp(F.log_softmax(logit, 1) + comp, 1).mean()
    if family == "seq2seq_attn":
        return F.cross_entropy(out.reshape(-1, out.shape[-1]), y.reshape(-1))
    if family == "multitask":  # the two task losses summed
        mse = F.mse_loss(out[:, 0], y[:, 0])
        return mse + F.cross_entropy(out[:, 1:], y[:, 1].long())
    if family == "tcn_fc":
        return F.l1_loss(out, y)
    if family == "focal_bin":  # focal loss, gamma 2, no class weight
        bce = F.binary_cross_entropy_with_logits(out, y, reduction="none")
        p_t = torch.exp(-bce)
        return ((1 - p_t) ** 2 * bce).mean()
    if family == "quantile":
        err = y - out
        return (err * (0.8 - (err < 0).float())).mean()
    if family == "dropout_reg":
        return F.huber_loss(out, y)
    if family == "multilabel":
        return F.binary_cross_entropy_with_logits(out, y)
    if family == "poisson":
        return F.poisson_nll_loss(out, y, log_input=True, full=True)
    if family == "deep_tanh":
        return F.mse_loss(out, y)
    if family == "smooth_ce":
        return F.cross_entropy(out, y, label_smoothing=0.1)
    if family in ("gru_lm", "transformer_lm"):
        return F.cross_entropy(out.reshape(-1, out.shape[-1]), y.reshape(-1))
    return F.cross_entropy(out, y)


def _triplet_loss(out: Any, y: Any) -> Any:
    """Triplet margin loss: on (n, 3, dim) embeddings the fixed triplets; on (n, dim) random
    in-batch triplets (a random positive and a random negative per anchor; drawn from the global
    RNG while training, from a fixed seed under no_grad, so an evaluation is deterministic)."""
    import torch
    import torch.nn.functional as F

    if out.dim() == 3:
        return F.triplet_margin_loss(out[:, 0], out[:, 1], out[:, 2], margin=1.0)
    n = len(y)
    gen = None if torch.is_grad_enabled() else torch.Generator().manual_seed(0)
    r = torch.rand((n, n), generator=gen)
    same = y[:, None] == y[None]
    pos_ok = same & ~torch.eye(n, dtype=torch.bool)
    pos = torch.where(pos_ok, r, -1.0).argmax(1)
    neg = torch.where(~same, r, -1.0).argmax(1)
    keep = pos_ok.any(1) & (~same).any(1)
    return F.triplet_margin_loss(out[keep], out[pos[keep]], out[neg[keep]], margin=1.0)


def _infonce_loss(out: Any, temperature: float = 0.2) -> Any:
    """Symmetric InfoNCE on (n, 2, dim) embeddings of two views: cosine similarities over the
    temperature, each view's positive its partner and its negatives the other pairs of its group
    of BATCH (the validation set is cut into groups of BATCH, so that its loss is on the scale of
    the training batches'; a remainder is left out)."""
    import torch
    import torch.nn.functional as F

    n = len(out)
    size = BATCH if n > BATCH else n
    groups = max(1, n // size)
    e = F.normalize(out[: groups * size], dim=-1).reshape(groups, size, 2, -1)
    logits = e[:, :, 0] @ e[:, :, 1].transpose(1, 2) / temperature  # (groups, size, size)
    target = torch.arange(size).expand(groups, size).reshape(-1)
    a = F.cross_entropy(logits.reshape(-1, size), target)
    b = F.cross_entropy(logits.transpose(1, 2).reshape(-1, size), target)
    return (a + b) / 2


def _optimizer(family: str, params: Any, lr: float) -> Any:
    import torch

    if family == "tabular":
        return torch.optim.SGD(params, lr, momentum=0.9)
    if family == "cnn":
        return torch.optim.SGD(params, lr)
    if family == "transformer_lm":
        return torch.optim.AdamW(params, lr, weight_decay=0.01)
    if family == "autoencoder":
        return torch.optim.RMSprop(params, lr)
    if family == "conv1d":
        return torch.optim.SGD(params, lr, momentum=0.9, nesterov=True)
    if family == "embbag":
        return torch.optim.Adagrad(params, lr)
    if family == "dropout_reg":
        return torch.optim.AdamW(params, lr, weight_decay=0.05)
    if family == "gn_cnn":
        return torch.optim.SGD(params, lr, momentum=0.9)
    if family == "multilabel":
        return torch.optim.RMSprop(params, lr)
    if family == "deep_tanh":
        return torch.optim.Adamax(params, lr)
    if family == "resnet_bn":
        return torch.optim.SGD(params, lr, momentum=0.9, nesterov=True)
    if family == "smooth_ce":
        return torch.optim.AdamW(params, lr, weight_decay=0.01)
    if family == "quantile":
        return torch.optim.SGD(params, lr, momentum=0.9)
    if family == "elman_rnn":
        return torch.optim.RAdam(params, lr)
    if family == "ln_mixer":
        return torch.optim.NAdam(params, lr)
    if family == "lstm_fc":
        return torch.optim.Adam(params, lr, amsgrad=True)
    if family == "drop_cnn":
        return torch.optim.SGD(params, lr, momentum=0.9, weight_decay=5e-4)
    if family == "clip_tf":
        return torch.optim.AdamW(params, lr, weight_decay=0.1)
    if family == "triplet_embed":
        return torch.optim.SGD(params, lr, momentum=0.9)
    if family == "deepsets_reg":
        return torch.optim.AdamW(params, lr, weight_decay=0.01)
    if family == "gnn_graph":
        return torch.optim.SGD(params, lr, momentum=0.9)
    if family == "mf_rec":
        return torch.optim.RMSprop(params, lr)
    if family == "hinge_svm":
        return torch.optim.SGD(params, lr)
    if family == "distill_kd":
        return torch.optim.AdamW(params, lr, weight_decay=0.01)
    if family == "infonce":
        return torch.optim.SGD(params, lr, momentum=0.9, nesterov=True)
    if family == "wide_deep":
        return torch.optim.Adagrad(params, lr)
    if family == "diffusion_eps":
        return torch.optim.AdamW(params, lr, weight_decay=0.01)
    if family == "ctc_gru":
        return torch.optim.SGD(params, lr, momentum=0.9)
    if family == "seq2seq_attn":
        return torch.optim.AdamW(params, lr, weight_decay=0.01)
    if family == "multitask":
        return torch.optim.SGD(params, lr, momentum=0.9, weight_decay=5e-4)
    if family == "tcn_fc":
        return torch.optim.RMSprop(params, lr)
    if family == "focal_bin":
        return torch.optim.Adam(params, lr, amsgrad=True)
    if family == "vit_digits":
        return torch.optim.SGD(params, lr, momentum=0.9, nesterov=True)
    return torch.optim.Adam(params, lr)  # flow_nvp, mdn_mix: Adam


# ----------------------------------------------------------------------------- schedules


def lr_at(schedule: str, k: int, total: int, peak: float) -> float:
    """Closed-form schedules (the plateau-cut controller is applied in the training loop)."""
    u = k / total
    warm = max(1, total // 20)
    if schedule in ("constant", "plateau_cuts"):
        return peak
    if schedule == "warmup_cosine":
        if k < warm:
            return peak * (k + 1) / warm
        return peak * 0.5 * (1 + math.cos(math.pi * (k - warm) / (total - warm)))
    if schedule == "onecycle":
        up = int(0.3 * total)
        if k < up:
            return peak / 25 + (peak - peak / 25) * (1 - math.cos(math.pi * k / up)) / 2
        return (
            peak / 1e4 + (peak - peak / 1e4) * (1 + math.cos(math.pi * (k - up) / (total - up))) / 2
        )
    if schedule == "step":
        return peak * (0.1 ** int(u >= 0.5)) * (0.1 ** int(u >= 0.75))
    if schedule == "wsd":
        if k < warm:
            return peak * (k + 1) / warm
        return peak if u < 0.8 else peak * (1 - u) / 0.2
    raise ValueError(schedule)


# ----------------------------------------------------------------------------- training


def train(family: str, lr: float, seed: int, schedule: str = "constant", fraction: float = 1.0,
          steps: int = STEPS, decay_check: bool = False) -> dict[str, Any]:  # fmt: skip
    import torch

    torch.set_num_threads(1)
    d = _data(family)
    xt, yt = d["xt"], d["yt"]
    if fraction < 1:
        keep = int(len(xt) * fraction)
        xt, yt = xt[:keep], yt[:keep]
    model = _model(family, seed)
    opt = _optimizer(family, model.parameters(), lr)
    per_epoch = max(1, len(xt) // BATCH)
    gen = torch.Generator().manual_seed(seed)
    rows: list[tuple[int, int, float, float]] = []
    vals: list[tuple[int, int, float]] = []
    cut, best_v, bad = 1.0, math.inf, 0
    perm = torch.randperm(len(xt), generator=gen)
    for k in range(steps):
        j = k % per_epoch
        if j == 0 and k:
            perm = torch.randperm(len(xt), generator=gen)
        idx = perm[j * BATCH : (j + 1) * BATCH]
        lr_k = lr_at(schedule, k, steps, lr) * cut
        for g in opt.param_groups:
            g["lr"] = lr_k
        model.train()
        loss = _loss(family, model(xt[idx]), yt[idx])
        opt.zero_grad()
        loss.backward()
        grad = float(
            sum(float(p.grad.norm()) ** 2 for p in model.parameters() if p.grad is not None) ** 0.5
        )
        _clip(family, model)
        opt.step()
        rows.append((k, k // per_epoch, float(loss.item()), lr_k, grad))  # type: ignore[arg-type]
        if j == per_epoch - 1:
            model.eval()
            with torch.no_grad():
                v = float(_loss(family, model(d["xv"]), d["yv"]).item())
            vals.append((k, k // per_epoch, v))
            if schedule == "plateau_cuts":  # ReduceLROnPlateau(factor=0.3, patience=2)
                if v < best_v * (1 - 1e-3):
                    best_v, bad = v, 0
                else:
                    bad += 1
                    if bad > 2:
                        cut, bad = cut * 0.3, 0
        if not math.isfinite(rows[-1][2]):
            break
    out: dict[str, Any] = {"steps": rows, "vals": vals, "per_epoch": per_epoch}
    if decay_check and all(math.isfinite(r[2]) for r in rows):
        out["decay_gain"] = _decay_gain(family, model, opt, xt, yt, lr_k, seed, steps // 4)
    return out


def _clip(family: str, model: Any) -> None:
    if family == "clip_tf":  # the logged grad norm is taken before clipping, as trainers log it
        import torch

        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)


def _decay_gain(
    family: str, model: Any, opt: Any, x: Any, y: Any, lr: float, seed: int, steps: int
) -> float:
    import torch

    result = []
    for factor in (1.0, 0.1):
        m, o = copy.deepcopy((model, opt))
        for g in o.param_groups:
            g["lr"] = lr * factor
        gen = torch.Generator().manual_seed(99 + seed)
        m.train()
        for _ in range(steps):
            idx = torch.randint(0, len(x), (BATCH,), generator=gen)
            loss = _loss(family, m(x[idx]), y[idx])
            o.zero_grad()
            loss.backward()
            _clip(family, m)
            o.step()
        m.eval()
        with torch.no_grad():
            result.append(float(_loss(family, m(x), y).item()))
    return 1.0 - result[1] / result[0]


def _job(args: tuple[Any, ...]) -> tuple[tuple[Any, ...], dict[str, Any]]:
    family, lr, seed, kw = args
    return args, train(family, lr, seed, **kw)


# ----------------------------------------------------------------------------- labels


def label_run(run: dict[str, Any], best_val: float, factor: float, schedule: str) -> str | None:
    """The label from the outcome relative to the grid (see the module docstring)."""
    train_l = np.array([r[2] for r in run["steps"]])
    val = np.array([v[2] for v in run["vals"]])
    return label_curves(train_l, val, run["per_epoch"], run.get("decay_gain"), best_val, factor,
                        schedule)  # fmt: skip


def _q(v0: float, v: float, best_val: float) -> float:
    """Fraction of the way from the start to the grid's best, on the log scale (reaching 0.1
    from chance 1.1 when the best run reaches 0.0006 is not 90% of the way, as a linear
    fraction would say; for losses that move little both agree)."""
    if v0 > 0 and v > 0 and best_val > 0 and v0 > best_val:
        return math.log(v0 / v) / math.log(v0 / best_val)
    return (v0 - v) / max(v0 - best_val, 1e-12)


def label_curves(train_l: np.ndarray, val: np.ndarray, per_epoch: int, decay_gain: float | None,
                 best_val: float, factor: float, schedule: str) -> str | None:  # fmt: skip
    if not (np.isfinite(train_l).all() and np.isfinite(val).all()) or len(val) < 2:
        return "diverged"
    t0 = float(np.median(train_l[:3]))
    tend = float(np.median(train_l[-max(1, len(train_l) // 10) :]))
    if tend > 2 * t0:
        return "diverged"
    v0 = t0  # the loss before training: the first minibatch loss
    k = int(np.argmin(val))
    vmin = float(val.min())
    vend = float(np.median(val[-3:]))
    vrange = max(v0 - vmin, 1e-12)
    at_k = train_l[max(0, (k - 1) * per_epoch) : (k + 1) * per_epoch]
    train_falls = tend < float(np.median(at_k)) if len(at_k) else False
    if (
        _q(v0, vmin, best_val) >= 0.9
        and (val[-1] - vmin) >= 0.1 * vrange
        and (k <= 0.7 * len(val) and train_falls)
    ):
        return "overfitting"
    # Otherwise the run is judged by where it ends (a run that was good early and then blew
    # up is not healthy).
    q = _q(v0, vend, best_val)
    if q < 0.7:
        if factor >= 3:
            return "lr_too_high"
        if factor <= 1 / 3:
            return "lr_too_low"
        return None
    if q < 0.9:
        return None
    if schedule == "constant" and (decay_gain or 0.0) >= 0.1:
        return "plateau"
    return "healthy"


def relabel(index: dict[str, Any]) -> dict[str, Any]:
    """Labels recomputed from the curves saved in ``index.json`` (no re-training)."""
    runs = []
    dropped = index["dropped"]
    for r in index["runs"]:
        if r.get("fraction", 1.0) < 1.0:
            # Small-data runs are compared with a grid trained on all the data: only their
            # overfitting (or not) is a fact about them.
            lab0 = r["label"] if r["label"] == "overfitting" else None
            if lab0 is None:
                dropped += 1
                continue
            runs.append(r)
            continue
        lab = label_curves(np.array(r["train_loss"], dtype=float),
                           np.array([v for _, v in r["val"]], dtype=float), r["per_epoch"],
                           r.get("decay_gain"), index["best"][r["family"]][1], r["factor"],
                           r["schedule"])  # fmt: skip
        if lab is None:
            dropped += 1
            continue
        runs.append({**r, "label": lab})
    return {**index, "runs": runs, "dropped": dropped}


# ----------------------------------------------------------------------------- writers


def write_log(fmt: str, path: Path, run: dict[str, Any]) -> Path:
    """Write ``run`` the way the tool ``fmt`` would; returns what to point the doctor at."""
    # plain floats: a NumPy scalar's repr (np.float64(...)) is not what a logger writes
    steps = [(int(k), int(e), float(v), float(lr), float(g)) for k, e, v, lr, g in run["steps"]]
    vals = [(int(k), int(e), float(v)) for k, e, v in run["vals"]]
    vmap = {s: v for s, _, v in vals}
    path.mkdir(parents=True, exist_ok=True)
    if fmt == "lightning":
        lines = ["epoch,lr-Adam,step,train_loss_step,val_loss"]
        for k, e, loss, lr, _ in steps:
            lines.append(f",{lr!r},{k},,")
            lines.append(f"{e},,{k},{loss!r},")
            if k in vmap:
                lines.append(f"{e},,{k},,{vmap[k]!r}")
        f = path / "metrics.csv"
        f.write_text("\n".join(lines) + "\n")
        return f
    if fmt == "csv":
        lines = ["step,loss,val_loss,lr,grad_norm"]
        for k, _, loss, lr, gn in steps:
            v = vmap.get(k)
            lines.append(f"{k},{loss!r},{'' if v is None else repr(v)},{lr!r},{gn!r}")
        f = path / "log.csv"
        f.write_text("\n".join(lines) + "\n")
        return f
    if fmt == "hf":
        hist: list[dict[str, Any]] = []
        for i in range(0, len(steps) - 9, 10):
            chunk = steps[i : i + 10]
            k = chunk[-1][0] + 1
            hist.append({"epoch": round(k / run["per_epoch"], 2), "grad_norm": chunk[-1][4],
                         "learning_rate": chunk[-1][3], "loss": float(np.mean([c[2] for c in chunk])),
                         "step": k})  # fmt: skip
            for s, e, v in vals:
                if k - 10 < s + 1 <= k:
                    hist.append({"epoch": e + 1.0, "eval_loss": v, "step": k})
        hist.append({"epoch": float(len(vals)), "step": len(steps), "total_flos": 1.0,
                     "train_loss": float(np.mean([s[2] for s in steps])), "train_runtime": 1.0,
                     "train_samples_per_second": 1.0})  # fmt: skip
        f = path / "trainer_state.json"
        f.write_text(json.dumps({"global_step": len(steps), "log_history": hist}, indent=2,
                                allow_nan=True))  # fmt: skip
        return f
    if fmt == "keras":
        lines = ["epoch,loss,lr,val_loss"]
        for _, e, v in vals:
            ep = [r for r in steps if r[1] == e]
            lines.append(f"{e},{float(np.mean([r[2] for r in ep]))!r},{ep[-1][3]!r},{v!r}")
        f = path / "training.log"
        f.write_text("\n".join(lines) + "\n")
        return f
    if fmt == "jsonl":
        out = []
        for k, e, loss, lr, _ in steps:
            if k % 5 == 4:
                out.append(json.dumps({"step": k, "loss": loss, "lr": lr}))
            if k in vmap:
                ep = [r[2] for r in steps if r[1] == e]
                out.append(json.dumps({"epoch": e, "train_loss": float(np.mean(ep)),
                                       "val_loss": vmap[k]}))  # fmt: skip
        f = path / "log.jsonl"
        f.write_text("\n".join(out) + "\n")
        return f
    if fmt == "wandb":
        lines = [
            "_step,_runtime,_timestamp,train/loss,train/learning_rate,train/global_step,eval/loss"
        ]
        n = 0
        for k, _, loss, lr, _ in steps:
            lines.append(f"{n},{k * 0.1},{1.7e9 + k},{loss!r},{lr!r},{k},")
            n += 1
            if k in vmap:
                lines.append(f"{n},{k * 0.1},{1.7e9 + k},,,{k},{vmap[k]!r}")
                n += 1
        f = path / "wandb_history.csv"
        f.write_text("\n".join(lines) + "\n")
        return f
    if fmt == "mlflow":
        run_dir = path / "mlruns" / "1" / "abc123"
        m = run_dir / "metrics"
        m.mkdir(parents=True)
        (m / "train_loss").write_text("".join(f"{1700000000000 + k} {loss!r} {k}\n"
                                              for k, _, loss, _, _ in steps))  # fmt: skip
        (m / "lr").write_text(
            "".join(f"{1700000000000 + k} {lr!r} {k}\n" for k, _, _, lr, _ in steps)
        )
        (m / "val_loss").write_text("".join(f"{1700000000000 + s} {v!r} {s}\n" for s, _, v in vals))
        return path / "mlruns"
    if fmt == "tensorboard":
        from torch.utils.tensorboard import SummaryWriter

        w = SummaryWriter(str(path / "tb"))
        for k, _, loss, lr, _ in steps:
            w.add_scalar("train/loss", loss, k)
            w.add_scalar("lr", lr, k)
        for s, _, v in vals:
            w.add_scalar("val/loss", v, s)
        w.close()
        return path / "tb"
    raise ValueError(fmt)


# ----------------------------------------------------------------------------- main


def _steps(family: str) -> dict[str, int]:
    if family in HELDOUT_FAMILIES:
        return {"steps": LONG_STEPS}
    mid = (HELDOUT2_FAMILIES + HELDOUT3_FAMILIES + HELDOUT4_FAMILIES + HELDOUT5_FAMILIES
           + HELDOUT6_FAMILIES + HELDOUT7_FAMILIES + HELDOUT8_FAMILIES
           + HELDOUT9_FAMILIES + HELDOUT10_FAMILIES + HELDOUT11_FAMILIES
           + HELDOUT12_FAMILIES + HELDOUT13_FAMILIES)  # fmt: skip
    return {"steps": MID_STEPS} if family in mid else {}


def build(out: Path, workers: int, families: list[str]) -> dict[str, Any]:
    t0 = time.time()
    with ProcessPoolExecutor(workers) as pool:
        grid_jobs = [(f, lr * (10.0 if f in SGD_FAMILIES else 1.0), 0, _steps(f))
                     for f in families for lr in GRID]  # fmt: skip
        grid = list(pool.map(_job, grid_jobs))
        best: dict[str, tuple[float, float]] = {}
        for (f, lr, _, _), r in grid:
            v = np.array([x[2] for x in r["vals"]])
            score = float(np.nanmin(v)) if len(v) and np.isfinite(v).any() else math.inf
            if f not in best or score < best[f][1]:
                best[f] = (lr, score)
        print(
            "grid-best LR:",
            {f: f"{b[0]:.3g} (val {b[1]:.4g})" for f, b in best.items()},
            flush=True,
        )
        jobs = []
        for f in families:
            b = best[f][0]
            for i, factor in enumerate(FACTORS):
                jobs.append((f, b * factor, 1, {"decay_check": True, **_steps(f)}))
                sched = SCHEDULES[(i + ALL_FAMILIES.index(f)) % len(SCHEDULES)]
                jobs.append((f, b * factor, 2, {"schedule": sched, **_steps(f)}))
            if f not in ("gru_lm", "transformer_lm"):  # generated text has no small data set
                n = 2 * _steps(f).get("steps", STEPS)
                jobs.append((f, b, 3, {"fraction": 0.15, "steps": n}))
                jobs.append((f, b * 0.3, 4, {"fraction": 0.15, "steps": n}))
        runs = list(pool.map(_job, jobs))
    records, dropped = [], 0
    for i, ((f, lr, _, kw), run) in enumerate(runs):
        b, bv = best[f]
        factor = lr / b
        sched = kw.get("schedule", "constant")
        label = label_run(run, bv, factor, sched)
        if kw.get("fraction", 1.0) < 1.0 and label != "overfitting":
            label = None  # compared with a grid trained on all the data: not a fact about it
        if label is None:
            dropped += 1
            continue
        fmt = FORMATS[i % len(FORMATS)]
        target = write_log(fmt, out / f"{i:03d}_{f}_x{factor:g}_{sched}_{fmt}", run)
        records.append({"family": f, "label": label, "lr": lr, "best_lr": b, "factor": factor,
                         "schedule": sched, "format": fmt, "fraction": kw.get("fraction", 1.0),
                         "log": str(target.relative_to(out)),
                         "decay_gain": run.get("decay_gain"),
                         # the raw curves, to re-label without re-training
                         "train_loss": [round(float(r[2]), 6) for r in run["steps"]],
                         "val": [[int(v[0]), round(float(v[2]), 6)] for v in run["vals"]],
                         "per_epoch": run["per_epoch"]})  # fmt: skip
    index = {"seconds": round(time.time() - t0, 1), "best": best, "dropped": dropped,
             "runs": records}  # fmt: skip
    (out / "index.json").write_text(json.dumps(index, indent=1))
    return index


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--families", default=",".join(FAMILIES),
                    help=f"comma-separated; held out: {','.join(HELDOUT_FAMILIES)}, "
                         f"{','.join(HELDOUT2_FAMILIES)}, {','.join(HELDOUT3_FAMILIES)}, "
                         f"{','.join(HELDOUT4_FAMILIES)}, {','.join(HELDOUT5_FAMILIES)}, "
                         f"{','.join(HELDOUT6_FAMILIES)}, {','.join(HELDOUT7_FAMILIES)}, "
                         f"{','.join(HELDOUT8_FAMILIES)}, {','.join(HELDOUT9_FAMILIES)}, "
                         f"{','.join(HELDOUT10_FAMILIES)}, "
                         f"{','.join(HELDOUT11_FAMILIES)}, "
                         f"{','.join(HELDOUT12_FAMILIES)} and "
                         f"{','.join(HELDOUT13_FAMILIES)}")  # fmt: skip
    args = ap.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    idx = build(out, args.workers, args.families.split(","))
    from collections import Counter

    print(f"{len(idx['runs'])} runs kept, {idx['dropped']} dropped, {idx['seconds']} s")
    print(Counter((r["family"], r["label"]) for r in idx["runs"]))


if __name__ == "__main__":
    main()
