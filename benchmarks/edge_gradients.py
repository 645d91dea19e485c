"""The architecture gradient edge by edge, for each kind of sample.

    PYTHONPATH=. python benchmarks/edge_gradients.py      # ~2 min
    PYTHONPATH=. python benchmarks/edge_gradients.py --space=darts

At the untrained W_0 of `search_quality.py`'s NAS-Bench-201 supernet, on
one batch of 32 images of its CIFAR-10 task, the rms over 20 noise draws
of d ELBO / d phi on each edge, for the three `inference.SAMPLES` at
temperatures 1 and 0.2 (`--space=darts` and the harness's other flags:
its DARTS supernet; the rows then hold the normal cell's edges, then the
reduction cell's). An estimator whose gradient on some edges is
orders of magnitude above the others' moves those edges' logits whatever
the data say. Results go to benchmarks/results/edge_gradients.txt
(`edge_gradients_<space>.txt` for another space).
"""

import os
import sys
import warnings

import numpy as np
import tensorflow as tf

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import search_quality as sq  # noqa: E402
import tensorflow_probability as tfp  # noqa: E402

from base_tf import (  # noqa: E402
    adaptation,
    inference,
    meta_training,
    search_space,
)
from base_tf.inference import distributions  # noqa: E402

DRAWS = 20


def main():
    warnings.filterwarnings("ignore", message="Gradients do not exist")
    args = sq.parse_args(sys.argv[1:])
    config = sq.meta_config(args, "full", 0)
    model = meta_training.prior_model(config)
    w = model.meta_parameters
    task_config = adaptation.AdaptationConfig(
        steps=1, train_per_class=100, val_per_class=20, seed=0
    )
    task = adaptation.make_task(sq.TARGET, config, task_config)
    images, labels = next(iter(task.train_dataset(32, seed=0)))
    weights = inference.ElboWeights(1.0, 1e-3, float(task.num_train))
    space = search_space.get_space(config.search_space)
    edges = ", ".join(f"{i}->{j}" for i, j in space.edges)
    lines = [f"rms d ELBO / d phi per edge ({edges}), {DRAWS} draws"]
    for sample in inference.SAMPLES:
        for temperature in (1.0, 0.2):
            grads = []
            for draw in range(DRAWS):
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
                        tf.constant([draw, 1]),
                        hard=sample != "relaxed",
                        sampled_only=sample == "gdas",
                    )
                grads.append(tape.gradient(terms.elbo, w.logits).numpy())
            rms = np.sqrt(np.mean(np.square(grads), axis=(0, -1)))
            if sample == "hard" and temperature == 1.0:
                outliers = _large_draws(w, grads, temperature, space)
            cells = "; ".join(
                " ".join(f"{g:.4f}" for g in cell) for cell in rms
            )
            lines.append(f"{sample:8s} tau {temperature:g}: {cells}")
            print(lines[-1], flush=True)
    lines.append(
        "hard, tau 1: the draws with a gradient rms above 0.1 on an edge, "
        "and the op each edge sampled (the same seed as elbo's):"
    )
    lines.extend(outliers)
    for line in outliers:
        print(line)
    os.makedirs("benchmarks/results", exist_ok=True)
    suffix = "" if args.space == "nas_bench_201" else f"_{args.space}"
    with open(f"benchmarks/results/edge_gradients{suffix}.txt", "w") as f:
        f.write("\n".join(lines) + "\n")


def _large_draws(w, grads, temperature, space):
    """The draws whose gradient is far above the median, with the ops
    they sampled (drawn again as `inference.elbo` draws them)."""
    q_z, _ = distributions.posterior(w, tf.constant(temperature))
    lines = []
    for draw, grad in enumerate(grads):
        rms = np.sqrt(np.mean(np.square(grad), axis=-1))[0]
        if rms.max() <= 0.1:
            continue
        seed_z, _ = tfp.random.split_seed(tf.constant([draw, 1]), n=2)
        ops = np.argmax(q_z.sample(seed=seed_z).numpy(), -1)[0]
        picked = ", ".join(
            f"{i}->{j} {space.ops[o]}"
            for (i, j), o in zip(space.edges, ops, strict=True)
        )
        lines.append(
            f"  draw {draw}: rms {' '.join(f'{g:.3f}' for g in rms)}; "
            f"sampled {picked}"
        )
    return lines


if __name__ == "__main__":
    main()
