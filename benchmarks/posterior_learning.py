"""Does the architecture posterior learn? Prior and posterior statistics
after meta-training, per inner-loop variant, on real data.

    PYTHONPATH=. python benchmarks/posterior_learning.py            # ~25 min
    PYTHONPATH=. python benchmarks/posterior_learning.py --quick    # ~4 min
    PYTHONPATH=. python benchmarks/posterior_learning.py --snr      # ~1 min

For each variant of the inner loop (see `VARIANTS`) and each seed, this
meta-trains a NAS-Bench-201 supernet (1 cell a stage) on 5-class tasks of
MNIST and Fashion-MNIST at 16x16, then adapts the meta-trained prior to 5
classes of CIFAR-10 (never seen) and of Fashion-MNIST, and prints:

* the prior W after meta-training: the mean relative entropy of p(z;
  alpha) over edges (1 = uniform), the largest |alpha|, sigma's mean, min
  and max (it starts at 0.02 everywhere);
* the prior's own cell (each edge's most probable op, zero-shot);
* each adaptation: the mean relative entropy of q(z|D), its validation
  accuracy (mean network) and the derived cell;
* whether the CIFAR-10 and Fashion-MNIST cells differ, and whether any cell
  has no parametric op on a path from input to output (collapse).

It measures whether the distributions move and concentrate, not whether
the derived cells are good: that takes training them (issue 13's
search-quality harness).
"""

import argparse
import dataclasses
import json
import os
import statistics as stats
import sys
import tempfile
import time

import numpy as np
import tensorflow as tf

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import search_quality as sq  # noqa: E402

from base_tf import (  # noqa: E402
    adaptation,
    data,
    derivation,
    inference,
    meta_training,
)
from base_tf.inference import statistics  # noqa: E402

# Inner-loop variants: MetaTrainingConfig fields over the base config.
VARIANTS = {
    "sgd (today)": {},
    "adam phi": {"arch_optimizer": "adam", "arch_learning_rate": 0.1},
    "rho eta / sigma": {"rho_learning_rate": 2.5},
    "adam phi + rho eta": {
        "arch_optimizer": "adam",
        "arch_learning_rate": 0.1,
        "rho_learning_rate": 2.5,
    },
}


def base_config(args, seed):
    return meta_training.MetaTrainingConfig(
        search_space="nas_bench_201",
        channels=8,
        num_cells=1,
        num_classes=5,
        image_size=16,
        epochs=args.epochs,
        tasks_per_epoch=4,
        inner_steps=args.inner_steps,
        batch_size=16,
        seed=seed,
    )


def task_distribution(config, data_dir):
    return data.TaskDistribution(
        ["mnist", "fashion_mnist"],
        num_classes=config.num_classes,
        config=data.TaskConfig(
            data.ImageSpec(config.image_size, config.image_size, 3),
            train_per_class=50,
            val_per_class=20,
        ),
        seed=config.seed,
        data_dir=data_dir,
    )


def has_parametric_path(genotype):
    """Whether some input-to-output path of a NAS-Bench-201 cell goes
    through an op with weights (a cell without one has collapsed)."""
    free = sq.parameter_free_ops("nas_bench_201")
    return sq.has_parametric_path(genotype, free, "cell")


def gradient_scales(args, data_dir):
    """rms of the one-sample ELBO gradient at W_0 in the logits, mu and rho,
    on a batch of a real task: how much each part of W is pushed."""
    config = base_config(args, 0)
    model = meta_training.prior_model(config)
    w = model.meta_parameters
    task = task_distribution(config, data_dir).meta_train.sample(0)
    images, labels = next(iter(task.train_dataset(16, seed=0)))
    with tf.GradientTape() as tape:
        tape.watch(w)
        terms = inference.elbo(
            model.supernet,
            w,
            w,
            images,
            labels,
            tf.constant(config.initial_temperature),
            inference.ElboWeights(
                config.kl_architecture, config.kl_weights, task.num_train
            ),
            tf.constant([0, 1]),
        )
    grads = tape.gradient(terms.elbo, w)
    return {
        name: float(tf.sqrt(tf.reduce_mean(tf.square(g))))
        for name, g in zip(w._fields, grads, strict=True)
    }


def gradient_snr(args, data_dir, temperature, hard, batches=8, samples=16):
    """Signal-to-noise ratio of the logits' one-sample ELBO gradient at W_0.

    On `batches` batches of 64 images of a CIFAR-10 task, `samples`
    Gumbel (and weight) noise draws each: the median over the logits of
    |mean| / std of the gradient. Also the share of its spread that is the
    noise (the std over draws on a batch, over the std over everything).

    Returns:
        `(median SNR of one sample, median SNR of the mean of the
        `samples` draws on a batch, noise share)`.
    """
    config = base_config(args, 0)
    model = meta_training.prior_model(config)
    w = model.meta_parameters
    adapt_config = adaptation.AdaptationConfig(
        steps=1, batch_size=64, train_per_class=100, val_per_class=20
    )
    task = adaptation.make_task("cifar10", config, adapt_config, data_dir)
    data_batches = list(task.train_dataset(64, seed=0).take(batches))
    weights = inference.ElboWeights(
        config.kl_architecture, config.kl_weights, task.num_train
    )

    @tf.function(autograph=False)
    def gradient(images, labels, seed):
        with tf.GradientTape() as tape:
            tape.watch(w.logits)
            terms = inference.elbo(
                model.supernet,
                w,
                w,
                images,
                labels,
                tf.constant(temperature),
                weights,
                seed,
                hard=hard,
            )
        return tape.gradient(terms.elbo, w.logits)

    grads = np.stack(
        [
            np.stack(
                [
                    gradient(x, y, tf.constant([s, b])).numpy().ravel()
                    for s in range(samples)
                ]
            )
            for b, (x, y) in enumerate(data_batches)
        ]
    )  # [batches, samples, logits]
    flat = grads.reshape(-1, grads.shape[-1])
    one = np.median(np.abs(flat.mean(0)) / flat.std(0))
    averaged = grads.mean(1)
    mean_of_draws = np.median(np.abs(averaged.mean(0)) / averaged.std(0))
    noise_share = float(np.mean(grads.std(1).mean(0) / flat.std(0)))
    return float(one), float(mean_of_draws), noise_share


def run(args, name, overrides, seed, data_dir):
    config = dataclasses.replace(base_config(args, seed), **overrides)
    out = tempfile.mkdtemp(prefix="posterior_learning_")
    start = time.perf_counter()
    trainer = meta_training.MetaTrainer(
        config, task_distribution(config, data_dir), out
    )
    trainer.train(verbose=0)
    meta_seconds = time.perf_counter() - start
    w = trainer.model.meta_parameters
    prior = statistics.summary(w)
    prior["max_abs_alpha"] = float(np.abs(w.logits.numpy()).max())
    row = {
        "variant": name,
        "seed": seed,
        "meta_seconds": meta_seconds,
        "prior": prior,
    }
    loaded = (config, trainer.model)
    row["prior_cell"] = str(
        derivation.derive(
            trainer.supernet.space, derivation.op_probabilities(w.logits)
        )
    )
    for dataset in ("cifar10", "fashion_mnist"):
        adapt_config = adaptation.AdaptationConfig(
            steps=args.adapt_steps,
            batch_size=16,
            train_per_class=100,
            val_per_class=20,
            seed=seed,
        )
        task = adaptation.make_task(dataset, config, adapt_config, data_dir)
        posterior = adaptation.adapt(loaded, task, adapt_config)
        genotype = posterior.genotype()
        row[dataset] = {
            "relative_entropy": posterior.info["posterior_statistics"][
                "relative_entropy"
            ],
            "val_accuracy": posterior.info["val_accuracy_posterior"],
            "cell": str(genotype),
            "parametric_path": has_parametric_path(genotype),
        }
    return row


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--inner_steps", type=int, default=3)
    parser.add_argument("--adapt_steps", type=int, default=20)
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--data_dir", default=None)
    parser.add_argument("--json", help="also write the rows to this file")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="1 seed, 3 epochs, 5 adaptation steps: a smoke run",
    )
    parser.add_argument(
        "--snr",
        action="store_true",
        help="only measure the logits' gradient signal-to-noise ratio at "
        "W_0 on CIFAR-10 batches, per temperature and sample kind",
    )
    args = parser.parse_args()
    if args.snr:
        print(
            "temperature  sample   SNR (1 draw)  SNR (mean of 16)  noise share"
        )
        for temperature in (1.0, 0.2):
            for hard in (False, True):
                one, many, share = gradient_snr(
                    args, args.data_dir, temperature, hard
                )
                print(
                    f"{temperature:11.1f}  {'hard' if hard else 'relaxed':7s}"
                    f"  {one:12.3f}  {many:16.3f}  {share:11.2f}",
                    flush=True,
                )
        return
    if args.quick:
        args.seeds, args.epochs, args.adapt_steps = 1, 3, 5
    names = [v.strip() for v in args.variants.split(",")]
    print(
        f"NAS-Bench-201 supernet, C=8, 1 cell a stage; meta-training "
        f"{args.epochs} epochs x 4 tasks, T={args.inner_steps}, on 5-class "
        "MNIST + Fashion-MNIST tasks at 16x16; adaptation "
        f"{args.adapt_steps} steps on 5 classes; seeds 0..{args.seeds - 1}",
        flush=True,
    )
    scales = gradient_scales(args, args.data_dir)
    print(
        "rms of the ELBO's gradient at W_0 (one sample, one batch): "
        + ", ".join(f"{k} {v:.2g}" for k, v in scales.items()),
        flush=True,
    )
    rows = []
    for name in names:
        for seed in range(args.seeds):
            row = run(args, name, VARIANTS[name], seed, args.data_dir)
            rows.append(row)
            p = row["prior"]
            print(
                f"\n[{name}, seed {seed}] meta-training "
                f"{row['meta_seconds']:.0f} s; prior relative entropy "
                f"{p['relative_entropy']:.4f}, max |alpha| "
                f"{p['max_abs_alpha']:.3g}, sigma {p['sigma_mean']:.5f} "
                f"[{p['sigma_min']:.5f}, {p['sigma_max']:.5f}]\n"
                f"  prior cell   {row['prior_cell']}",
                flush=True,
            )
            for dataset in ("cifar10", "fashion_mnist"):
                r = row[dataset]
                print(
                    f"  {dataset:13s}{r['cell']}  rel. entropy "
                    f"{r['relative_entropy']:.3f}, val acc "
                    f"{r['val_accuracy']:.3f}"
                    + ("" if r["parametric_path"] else "  COLLAPSED"),
                    flush=True,
                )
    print(
        "\nvariant                prior rel.H  max|alpha|  sigma mean  "
        "post rel.H (C10)  cells differ  collapsed"
    )
    for name in names:
        mine = [r for r in rows if r["variant"] == name]

        differ = sum(
            r["cifar10"]["cell"] != r["fashion_mnist"]["cell"] for r in mine
        )
        collapsed = sum(
            not r[d]["parametric_path"]
            for r in mine
            for d in ("cifar10", "fashion_mnist")
        )

        def median(*keys, rows=mine):
            values = []
            for r in rows:
                for key in keys:
                    r = r[key]
                values.append(r)
            return stats.median(values)

        print(
            f"{name:22s} {median('prior', 'relative_entropy'):11.4f}"
            f"  {median('prior', 'max_abs_alpha'):10.3g}"
            f"  {median('prior', 'sigma_mean'):10.5f}"
            f"  {median('cifar10', 'relative_entropy'):16.3f}"
            f"  {differ:>5d}/{len(mine):<6d}  {collapsed:>4d}/{2 * len(mine)}"
        )
    print("(medians over seeds; cells differ: CIFAR-10 vs Fashion-MNIST)")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=2)


if __name__ == "__main__":
    main()
