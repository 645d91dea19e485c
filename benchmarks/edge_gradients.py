"""The architecture gradient edge by edge, for each kind of sample.

    PYTHONPATH=. python benchmarks/edge_gradients.py      # ~2 min

At the untrained W_0 of `search_quality.py`'s NAS-Bench-201 supernet, on
one batch of 32 images of its CIFAR-10 task, the rms over 20 noise draws
of d ELBO / d phi on each edge, for the three `inference.SAMPLES` at
temperatures 1 and 0.2. An estimator whose gradient on some edges is
orders of magnitude above the others' moves those edges' logits whatever
the data say. Results go to benchmarks/results/edge_gradients.txt.
"""

import os
import sys
import warnings

import numpy as np
import tensorflow as tf

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import search_quality as sq  # noqa: E402

from base_tf import (  # noqa: E402
    adaptation,
    inference,
    meta_training,
    search_space,
)

DRAWS = 20


def main():
    warnings.filterwarnings("ignore", message="Gradients do not exist")
    args = sq.parse_args([])
    config = sq.meta_config(args, "full", 0)
    model = meta_training._prior_model(config)
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
            cells = "; ".join(
                " ".join(f"{g:.4f}" for g in cell) for cell in rms
            )
            lines.append(f"{sample:8s} tau {temperature:g}: {cells}")
            print(lines[-1], flush=True)
    os.makedirs("benchmarks/results", exist_ok=True)
    with open("benchmarks/results/edge_gradients.txt", "w") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
