"""How many inner steps does a task need? The inner loop's fit, measured.

    PYTHONPATH=. python benchmarks/inner_loop_fit.py
    PYTHONPATH=. python benchmarks/inner_loop_fit.py \\
        --learning_rates=0.05,0.2,0.5 --steps=100 --tasks=4

Meta-training (Reptile) moves W toward each task's adapted parameters; if
T inner steps do not fit a task, the adapted parameters carry no more about
it than W did, and meta-training learns nothing (the README's "Search
quality" found meta-training at chance after 600 epochs at T=5). This
benchmark runs the inner loop of `benchmarks/search_quality.py`'s
meta-training (its NAS-Bench-201 supernet, 5-class 16x16 tasks of its
ImageNet classes, batch 16) from W_0, or from a meta-trained prior with
`--prior`, for `--steps` steps at each learning rate eta (the weights';
the logits' step scales with it, as in the shipped config's 0.5 / 0.05),
and prints, for windows of steps, the training NLL and accuracy of the
sampled networks, then the validation accuracy of the posterior mean
network after T steps for each T in `--eval_steps`: median over `--tasks`
meta-training tasks. Results go to `--out` (.txt and .json).
"""

import argparse
import dataclasses
import json
import os
import statistics as stats
import sys
import time

import numpy as np
import tensorflow as tf

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import search_quality  # noqa: E402

from base_tf import inference, meta_training  # noqa: E402

# Traced once for each number of steps and shared by every task.
_INNER_LOOP = tf.function(inference.inner_loop, autograph=False)

WINDOWS = ((0, 5), (5, 25), (25, 50), (50, 100), (100, 200), (200, 400))


def _windows(steps):
    return [(a, min(b, steps)) for a, b in WINDOWS if a < steps]


def _validation_accuracy(net, params, task, hard):
    images, labels = next(iter(task.val_dataset(max(task.num_val, 1))))
    return float(
        inference.posterior_mean_accuracy(net, params, images, labels, hard)
    )


def fit_one(net, w, task, config, steps, eval_steps, index):
    """The inner loop on one task: its per-step terms and the validation
    accuracy after each of `eval_steps` steps."""
    batches = task.train_dataset(config.batch_size, seed=index)
    images, labels = next(iter(batches.batch(steps)))
    inner = config.inner_loop
    loop = _INNER_LOOP
    seed = meta_training.task_seed(config.seed, index)
    hard = config.arch_sample != "relaxed"
    temperature = tf.constant(config.initial_temperature)
    n = np.float32(task.num_train)
    _, terms = loop(net, w, images, labels, inner, temperature, n, seed)
    val = {}
    for t in eval_steps:
        if t == 0:
            val[t] = _validation_accuracy(net, w, task, hard)
            continue
        params, _ = loop(
            net, w, images[:t], labels[:t], inner, temperature, n, seed
        )
        val[t] = _validation_accuracy(net, params, task, hard)
    return terms.nll.numpy(), terms.accuracy.numpy(), val


def drift(net, w, task, config, steps, index):
    """How the logits move in the first and the second half of `steps`
    inner steps on one task: `(phi^{T/2} - alpha, phi^T - phi^{T/2})`,
    each `[cell types, edges, ops]`. The same batches, noise and seed as
    `fit_one`, so the halves are one trajectory."""
    batches = task.train_dataset(config.batch_size, seed=index)
    images, labels = next(iter(batches.batch(steps)))
    seed = meta_training.task_seed(config.seed, index)
    temperature = tf.constant(config.initial_temperature)
    n = np.float32(task.num_train)
    half = steps // 2
    phis = [np.asarray(w.logits)]
    for t in (half, steps):
        params, _ = _INNER_LOOP(
            net,
            w,
            images[:t],
            labels[:t],
            config.inner_loop,
            temperature,
            n,
            seed,
        )
        phis.append(params.logits.numpy())
    return phis[1] - phis[0], phis[2] - phis[1]


def drift_lines(space, moves, steps):
    """The mean displacement of each op's logit over edges and tasks, per
    half of the steps, centred over the ops of an edge (softmax ignores a
    shift); and how much the tasks agree: the norm of the tasks' mean
    displacement over the mean of their norms (1: all tasks move the
    logits the same way; about 1/sqrt(tasks): no common direction)."""
    lines = []
    for half, name in (
        (0, f"steps [0,{steps // 2})"),
        (1, f"steps [{steps // 2},{steps})"),
    ):
        d = np.stack([m[half] for m in moves])  # [tasks, types, edges, ops]
        d = d - d.mean(-1, keepdims=True)
        by_op = d.mean(axis=(0, 1, 2))
        mean_norm = float(np.mean([np.linalg.norm(x) for x in d]))
        agreement = float(np.linalg.norm(d.mean(0))) / max(mean_norm, 1e-30)
        lines.append(
            f"  logits' displacement, {name}: |d| a task {mean_norm:.4f}, "
            f"tasks' agreement {agreement:.2f}; by op (mean over edges "
            f"and tasks): "
            + ", ".join(
                f"{op} {v:+.4f}" for op, v in zip(space.ops, by_op, strict=True)
            )
        )
    return lines


def movement(model, initial):
    """How far meta-training moved mu from its W_0: |mu - mu_0| / |mu_0|
    of each weight tensor, summarised by part of the network."""
    layout = model.supernet.layout
    mu = layout.unflatten(tf.convert_to_tensor(model.mu))
    mu0 = layout.unflatten(tf.convert_to_tensor(initial.mu))
    parts = {}
    for name, value in mu.items():
        if not float(tf.norm(mu0[name])):
            continue  # starts at zero (biases)
        part = name.split("/")[0]
        part = part if part in ("stem", "classifier") else "cells"
        change = float(tf.norm(value - mu0[name]) / tf.norm(mu0[name]))
        parts.setdefault(part, []).append(change)
    return [
        f"mu moved from W_0 (|mu - mu_0| / |mu_0| a tensor), {part}: median "
        f"{stats.median(v):.4f}, max {max(v):.4f} over {len(v)} tensors"
        for part, v in parts.items()
    ]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--learning_rates", default="0.05,0.2,0.5")
    parser.add_argument(
        "--arch_ratio",
        type=float,
        default=10.0,
        help="the logits' step over the weights' (shipped: 0.5 / 0.05)",
    )
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--eval_steps", default="0,5,25,50,100")
    parser.add_argument("--tasks", type=int, default=4)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--method",
        default="{}",
        help="JSON of MetaTrainingConfig fields, as search_quality.py's",
    )
    parser.add_argument(
        "--prior", default=None, help="a meta-training run (default: W_0)"
    )
    parser.add_argument(
        "--drift",
        action="store_true",
        help="also print how the logits move in each half of the steps",
    )
    parser.add_argument("--data_dir", default=None)
    parser.add_argument("--out", default="benchmarks/results/inner_loop_fit")
    args = parser.parse_args()
    harness = search_quality.parse_args(
        [f"--seeds={args.seed}", f"--method={args.method}"]
    )
    base = search_quality.meta_config(harness, "full", args.seed)
    tasks = search_quality.task_distribution(base, harness).meta_train
    if args.prior:
        prior_config, model = meta_training.load_prior(args.prior)
    else:
        model = meta_training.prior_model(base)
    net, w = model.supernet, model.meta_parameters
    if base.exchangeable_classes:  # as meta-training starts its tasks
        w = model.exchangeable(w)
    eval_steps = [
        int(t) for t in args.eval_steps.split(",") if int(t) <= args.steps
    ]
    results, lines = [], []

    def say(line):
        print(line, flush=True)
        lines.append(line)

    say("command: " + " ".join(["benchmarks/inner_loop_fit.py", *sys.argv[1:]]))
    say(
        f"inner loop of search_quality.py's meta-training from "
        f"{args.prior or 'W_0'}; median over {args.tasks} tasks; "
        f"method {args.method}"
    )
    if args.prior:
        for line in movement(model, meta_training.prior_model(prior_config)):
            say(line)
    for lr in [float(x) for x in args.learning_rates.split(",")]:
        config = dataclasses.replace(
            base, learning_rate=lr, arch_learning_rate=lr * args.arch_ratio
        )
        start = time.perf_counter()
        runs = [
            fit_one(net, w, tasks.sample(i), config, args.steps, eval_steps, i)
            for i in range(args.tasks)
        ]
        row = {"learning_rate": lr, "arch_learning_rate": lr * args.arch_ratio}
        for a, b in _windows(args.steps):
            row[f"nll[{a},{b})"] = stats.median(
                float(np.mean(nll[a:b])) for nll, _, _ in runs
            )
            row[f"train_acc[{a},{b})"] = stats.median(
                float(np.mean(acc[a:b])) for _, acc, _ in runs
            )
        for t in eval_steps:
            row[f"val_acc@{t}"] = stats.median(val[t] for _, _, val in runs)
        finite = all(np.isfinite(nll).all() for nll, _, _ in runs)
        row["finite"] = finite
        row["seconds"] = time.perf_counter() - start
        results.append(row)
        say(
            f"eta {lr:g} (logits {lr * args.arch_ratio:g}), "
            f"{row['seconds']:.0f} s{'' if finite else ', NOT FINITE'}"
        )
        for a, b in _windows(args.steps):
            say(
                f"  steps [{a:3d},{b:3d}): nll {row[f'nll[{a},{b})']:.3f}  "
                f"train acc {row[f'train_acc[{a},{b})']:.3f}"
            )
        if args.drift:
            moves = [
                drift(net, w, tasks.sample(i), config, args.steps, i)
                for i in range(args.tasks)
            ]
            row["drift"] = [[m.tolist() for m in move] for move in moves]
            for line in drift_lines(net.space, moves, args.steps):
                say(line)
        say(
            "  val acc after T steps: "
            + ", ".join(f"T={t}: {row[f'val_acc@{t}']:.3f}" for t in eval_steps)
        )
    os.makedirs(os.path.dirname(args.out) or ".", exist_ok=True)
    with open(args.out + ".json", "w") as f:
        json.dump({"settings": vars(args), "results": results}, f, indent=1)
    with open(args.out + ".txt", "w") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
