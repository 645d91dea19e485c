"""How fast the supernet and the inner loop run, side by side with baselines.

    python benchmarks/inner_loop_speed.py            # from the repo root
    python benchmarks/inner_loop_speed.py --xla      # also jit_compile=True
    python benchmarks/inner_loop_speed.py --torch    # also the PyTorch DARTS
                                                     # reference, same shape

Prints, for one fixed config (DARTS space, C=8, 5 cells, batch 32, 32x32x3,
10 classes, T inner steps):

* the time to build the supernet and to trace + first-run the compiled
  inner loop;
* images/s of the inner loop (T steps of the ELBO's gradient) eagerly, under
  `tf.function` and (with --xla) under `tf.function(jit_compile=True)`;
* images/s of one supernet training step (forward, backward, SGD update),
  and with --torch the same step of the PyTorch DARTS reference
  (benchmarks/torch_darts_reference.py) in the same run;
* the GFLOP/s this reaches, against a large plain convolution on the same
  machine (the CPU's practical ceiling).

Medians of --repeats runs; the machine is noisy, so compare ratios.
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


def timed(fn, repeats):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        tf.nest.map_structure(lambda t: t.numpy(), result)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def forward_flops(net, batch, size):
    """FLOPs of one forward pass, counted by TF's profiler on the graph."""
    from tensorflow.python.profiler import model_analyzer, option_builder

    theta = tf.zeros([net.num_parameters])
    z = tf.fill(net.z_shape, 1.0 / net.z_shape[-1])
    fn = tf.function(lambda x: net.apply(theta, z, x)).get_concrete_function(
        tf.TensorSpec([batch, size, size, 3])
    )
    opts = option_builder.ProfileOptionBuilder.float_operation()
    opts["output"] = "none"
    return model_analyzer.profile(fn.graph, options=opts).total_float_ops


def conv_ceiling(repeats):
    """GFLOP/s of a large 3x3 convolution, forward and backward."""
    x = tf.random.normal([32, 32, 32, 256])
    k = tf.Variable(tf.random.normal([3, 3, 256, 256]) * 0.01)

    @tf.function
    def step():
        with tf.GradientTape() as tape:
            y = tf.nn.conv2d(x, k, 1, "SAME")
            loss = tf.reduce_sum(y * y)
        return tape.gradient(loss, k)

    step()
    seconds = timed(step, repeats)
    flops = 3 * 2 * 32 * 32 * 32 * 3 * 3 * 256 * 256  # fwd + 2 bwd convs
    return flops / seconds / 1e9


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--channels", type=int, default=8)
    parser.add_argument("--cells", type=int, default=5)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--image_size", type=int, default=32)
    parser.add_argument("--steps", type=int, default=5, help="T")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--xla", action="store_true")
    parser.add_argument("--torch", action="store_true")
    args = parser.parse_args()
    b, s, t = args.batch, args.image_size, args.steps

    print(
        f"config: DARTS, C={args.channels}, {args.cells} cells, batch {b}, "
        f"{s}x{s}x3, T={t}; TF {tf.__version__}, "
        f"{os.cpu_count()} CPU threads, devices "
        f"{[d.name for d in tf.config.list_logical_devices()]}"
    )
    start = time.perf_counter()
    net = Supernet("darts", channels=args.channels, num_cells=args.cells)
    build = time.perf_counter() - start
    rng = np.random.default_rng(0)
    w = inference.VariationalParameters(
        tf.zeros(net.z_shape),
        tf.constant(net.layout.initial_values(0)),
        tf.fill([net.num_parameters], float(inference.rho_for_sigma(0.02))),
    )
    images = tf.constant(rng.uniform(size=[t, b, s, s, 3]), tf.float32)
    labels = tf.constant(rng.integers(0, 10, size=[t, b]), tf.int32)
    config = inference.InnerLoopConfig()
    temperature, seed = tf.constant(1.0), tf.constant([1, 2])

    def loop_fn(**kw):
        fn = tf.function(inference.inner_loop, autograph=False, **kw)
        return lambda: fn(
            net, w, images, labels, config, temperature, 1000, seed
        )

    compiled = loop_fn()
    start = time.perf_counter()
    compiled()[0].mu.numpy()
    trace = time.perf_counter() - start
    rows = []
    loop_s = timed(compiled, args.repeats)
    rows.append(("inner loop, tf.function", t * b / loop_s))

    eager_s = timed(
        lambda: inference.inner_loop(
            net, w, images[:1], labels[:1], config, temperature, 1000, seed
        ),
        max(1, args.repeats // 2),
    )
    rows.insert(0, ("inner loop, eager", b / eager_s))
    if args.xla:
        xla = loop_fn(jit_compile=True)
        start = time.perf_counter()
        xla()[0].mu.numpy()
        xla_compile = time.perf_counter() - start
        rows.append(
            (
                f"inner loop, XLA (compile {xla_compile:.0f} s)",
                t * b / timed(xla, args.repeats),
            )
        )

    theta = tf.Variable(net.layout.initial_values(0))
    alpha = tf.Variable(tf.zeros(net.z_shape))
    x, y = images[0], labels[0]

    @tf.function(autograph=False)
    def train_step():
        with tf.GradientTape() as tape:
            logits = net.apply(theta, tf.nn.softmax(alpha), x)
            loss = tf.reduce_mean(
                tf.nn.sparse_softmax_cross_entropy_with_logits(y, logits)
            )
        g_theta, g_alpha = tape.gradient(loss, [theta, alpha])
        theta.assign_sub(0.025 * g_theta)
        alpha.assign_sub(3e-4 * g_alpha)
        return loss

    train_step()
    step_rate = b / timed(train_step, args.repeats)
    rows.append(("supernet training step, tf.function", step_rate))

    flops = forward_flops(net, b, s) / b
    ceiling = conv_ceiling(args.repeats)
    torch = None
    if args.torch:
        script = os.path.join(
            os.path.dirname(__file__), "torch_darts_reference.py"
        )
        out = subprocess.run(
            [
                sys.executable,
                script,
                "--json",
                f"--channels={args.channels}",
                f"--layers={args.cells}",
                f"--batch={b}",
                f"--image_size={s}",
                f"--steps={args.repeats}",
                "--warmup=2",
            ],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        torch = json.loads(out.strip().splitlines()[-1])
        rows.append(
            (
                "PyTorch DARTS reference training step",
                torch["median_images_per_s"],
            )
        )

    print(f"\nbuild supernet ({net.num_parameters:,} weights): {build:.2f} s")
    print(f"trace + first run of the T={t} inner loop: {trace:.1f} s")
    print(f"build + first trace: {build + trace:.1f} s (target < 15 s)")
    print(f"\n{'':44s} {'images/s':>9s} {'GFLOP/s':>8s}")
    for name, rate in rows:
        gflops = 3 * flops * rate / 1e9  # forward + backward ~ 3 forwards
        print(f"{name:44s} {rate:9.1f} {gflops:8.2f}")
    print(
        f"{'large 3x3 conv, 256 -> 256 (ceiling)':44s} {'':9s} {ceiling:8.2f}"
    )
    eager, function = rows[0][1], rows[1][1]
    print(f"\ntf.function / eager: {function / eager:.1f}x (target >= 8x)")
    if torch:
        print(
            f"training step / PyTorch reference: "
            f"{step_rate / torch['median_images_per_s']:.2f}x (target >= 3x)"
        )
    print(
        f"forward pass: {flops / 1e6:.0f} MFLOP an image; the training step "
        f"reaches {100 * 3 * flops * step_rate / 1e9 / ceiling:.0f}% of the "
        "large-conv ceiling"
    )


if __name__ == "__main__":
    main()
