"""How much faster the inner loop runs when it computes only sampled ops.

    python benchmarks/sampled_ops_speed.py              # from the repo root

The inner loop's z is a relaxed sample (every op of every edge weighted),
a hard one with whole-mixture straight-through ("hard": one-hot forward,
but the gradient asks every op, so every op runs), or a hard one with
GDAS's estimator ("gdas": the gradient reaches only the sampled op, so the
supernet runs only that op on each edge, `base_tf.supernet.sampled_op`).
For each, in the DARTS space (8 ops an edge): the time to trace the T-step
inner loop and to optimise its graph at the first run, and images/s of the
traced loop, timed in rounds that alternate the samples (the machine's
load drifts; a ratio within a round compares like with like). With oneDNN
on and off, each in a process of its own (the setting is read when
TensorFlow starts). Prints medians of the rounds and the gdas / hard and
gdas / relaxed ratios.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

import numpy as np
import tensorflow as tf

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from base_tf import inference  # noqa: E402
from base_tf.supernet import Supernet  # noqa: E402

SAMPLES = ("relaxed", "hard", "gdas")


def measure(args):
    """`{sample: {"trace_s", "optimise_s", "images_per_s": [a round]}}`
    for this process's TensorFlow."""
    net = Supernet(
        args.space,
        channels=args.channels,
        num_cells=args.cells,
        num_classes=10,
    )
    rng = np.random.default_rng(0)
    size, batch, steps = args.image_size, args.batch, args.steps
    images = tf.constant(
        rng.uniform(size=[steps, batch, size, size, 3]), tf.float32
    )
    labels = tf.constant(rng.integers(0, 10, size=[steps, batch]), tf.int32)
    prior = inference.VariationalParameters(
        tf.constant(rng.normal(size=net.z_shape) * 0.1, tf.float32),
        tf.constant(net.layout.initial_values(0)),
        tf.fill([net.num_parameters], float(inference.rho_for_sigma(0.02))),
    )
    loops, results = {}, {}
    for sample in SAMPLES:
        config = inference.InnerLoopConfig(arch_sample=sample)
        loop_args = (
            net,
            prior,
            images,
            labels,
            config,
            tf.constant(1.0),
            1000,
            tf.constant([1, 2]),
        )
        function = tf.function(inference.inner_loop, autograph=False)
        start = time.perf_counter()
        function.get_concrete_function(*loop_args)
        trace = time.perf_counter() - start
        start = time.perf_counter()
        function(*loop_args)[0].mu.numpy()
        first = time.perf_counter() - start
        loops[sample] = (function, loop_args)
        results[sample] = {
            "trace_s": trace,
            "first_run_s": first,
            "images_per_s": [],
        }
    for round_ in range(args.rounds):
        order = SAMPLES if round_ % 2 == 0 else SAMPLES[::-1]
        for sample in order:
            function, loop_args = loops[sample]
            start = time.perf_counter()
            function(*loop_args)[0].mu.numpy()
            seconds = time.perf_counter() - start
            results[sample]["images_per_s"].append(steps * batch / seconds)
    for sample in SAMPLES:
        rate = statistics.median(results[sample]["images_per_s"])
        results[sample]["optimise_s"] = max(
            0.0, results[sample]["first_run_s"] - steps * batch / rate
        )
    return results


def in_process(args, onednn):
    """`measure` in a new process with oneDNN on (1) or off (0)."""
    env = dict(os.environ, TF_ENABLE_ONEDNN_OPTS=str(onednn))
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    command = [sys.executable, os.path.abspath(__file__), "--json"] + [
        f"--{name}={value}"
        for name, value in vars(args).items()
        if name != "json"
    ]
    out = subprocess.run(
        command, check=True, capture_output=True, text=True, env=env
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--space", default="darts")
    parser.add_argument("--channels", type=int, default=8)
    parser.add_argument("--cells", type=int, default=5)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--image_size", type=int, default=32)
    parser.add_argument("--steps", type=int, default=5, help="T")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument(
        "--json", action="store_true", help="measure here, print JSON"
    )
    args = parser.parse_args()
    if args.json:
        print(json.dumps(measure(args)))
        return
    print(
        f"config: {args.space}, C={args.channels}, {args.cells} cells, batch "
        f"{args.batch}, {args.image_size}x{args.image_size}x3, T={args.steps}"
        f", {args.rounds} rounds; TF {tf.__version__}, {os.cpu_count()} CPU "
        "threads",
        flush=True,
    )
    for onednn in (1, 0):
        results = in_process(args, onednn)
        print(f"\noneDNN {'on' if onednn else 'off'}")
        print(
            f"{'z sample':10s} {'trace s':>8s} {'optimise s':>11s} "
            f"{'images/s':>9s}  rounds"
        )
        for sample in SAMPLES:
            r = results[sample]
            rates = r["images_per_s"]
            print(
                f"{sample:10s} {r['trace_s']:8.1f} {r['optimise_s']:11.1f} "
                f"{statistics.median(rates):9.1f}  "
                + ", ".join(f"{x:.1f}" for x in rates)
            )
        for base in ("hard", "relaxed"):
            ratios = [
                g / b
                for g, b in zip(
                    results["gdas"]["images_per_s"],
                    results[base]["images_per_s"],
                    strict=True,
                )
            ]
            print(
                f"gdas / {base}: median {statistics.median(ratios):.2f}x "
                f"of the rounds' {', '.join(f'{x:.2f}' for x in ratios)}"
            )


if __name__ == "__main__":
    main()
