"""How fast the supernet and the inner loop run, side by side with baselines.

    python benchmarks/inner_loop_speed.py --torch    # from the repo root

Prints, for one fixed config (DARTS space, C=8, 5 cells, batch 32, 32x32x3,
10 classes, T inner steps):

* the time to build the supernet, to trace the inner loop, and to optimise
  the traced graph at its first run (first run minus a later run);
* images/s of the inner loop (T steps of the ELBO's gradient) eagerly, under
  `tf.function` and under `tf.function(jit_compile=True)` (XLA; eager and
  XLA time one step, T=1: they are slow);
* the same eager / `tf.function` pair at a small, overhead-bound size
  (batch 4, 16x16): how much of a step is per-op overhead that tracing
  removes, rather than kernel time that it cannot;
* images/s of one supernet training step (forward, backward, SGD update),
  with TensorFlow's default threads and with one thread an op (a separate
  process: threads are fixed when TensorFlow starts), and with --torch the
  same step of the PyTorch DARTS reference
  (benchmarks/torch_darts_reference.py);
* the training step again with oneDNN on and off
  (`TF_ENABLE_ONEDNN_OPTS=1` / `=0`, each in a process of its own: the
  setting is read when TensorFlow starts), and with --baseline=REV the same
  for the code of git revision REV, so a change is measured against what it
  replaces in one run;
* the GFLOP/s this reaches, against a large plain convolution on the same
  machine (the CPU's practical ceiling).

Medians of --repeats runs; the machine is noisy, so compare ratios.
"""

import argparse
import io
import json
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
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


def variational_prior(net):
    return inference.VariationalParameters(
        tf.zeros(net.z_shape),
        tf.constant(net.layout.initial_values(0)),
        tf.fill([net.num_parameters], float(inference.rho_for_sigma(0.02))),
    )


def batches(steps, batch, size, seed=0):
    rng = np.random.default_rng(seed)
    images = rng.uniform(size=[steps, batch, size, size, 3])
    labels = rng.integers(0, 10, size=[steps, batch])
    return tf.constant(images, tf.float32), tf.constant(labels, tf.int32)


def inner_loop_args(net, images, labels):
    """The arguments of `inference.inner_loop` on `images`, T = their first
    dimension, from a fixed prior, temperature and seed."""
    return (
        net,
        variational_prior(net),
        images,
        labels,
        inference.InnerLoopConfig(),
        tf.constant(1.0),
        1000,
        tf.constant([1, 2]),
    )


def eager_rate(net, images, labels, repeats):
    """images/s of one eager inner step on `images[0]` (eager is slow)."""
    args = inner_loop_args(net, images[:1], labels[:1])
    return images.shape[1] / timed(
        lambda: inference.inner_loop(*args), max(1, repeats // 2)
    )


def eager_and_function(net, batch, size, repeats):
    """images/s of one inner step eagerly and of T=5 under tf.function."""
    images, labels = batches(5, batch, size)
    args = inner_loop_args(net, images, labels)
    compiled = tf.function(inference.inner_loop, autograph=False)
    compiled(*args)
    return (
        eager_rate(net, images, labels, repeats),
        5 * batch / timed(lambda: compiled(*args), repeats),
    )


def training_step_rate(net, batch, size, repeats):
    """images/s of a plain supernet training step under tf.function."""
    images, labels = batches(1, batch, size)
    theta = tf.Variable(net.layout.initial_values(0))
    alpha = tf.Variable(tf.zeros(net.z_shape))

    @tf.function(autograph=False)
    def train_step():
        with tf.GradientTape() as tape:
            logits = net.apply(theta, tf.nn.softmax(alpha), images[0])
            loss = tf.reduce_mean(
                tf.nn.sparse_softmax_cross_entropy_with_logits(
                    labels[0], logits
                )
            )
        g_theta, g_alpha = tape.gradient(loss, [theta, alpha])
        theta.assign_sub(0.025 * g_theta)
        alpha.assign_sub(3e-4 * g_alpha)
        return loss

    train_step()
    return batch / timed(train_step, repeats)


def json_line(command, env=None):
    """Runs `command` and returns the JSON object on its last line."""
    out = subprocess.run(
        command, check=True, capture_output=True, text=True, env=env
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def train_step_in_process(script, args, onednn=None, threads=0):
    """images/s of the training step of `script` (this file, or a
    baseline's copy of it) in a new process with oneDNN on (1) or off (0),
    or as this process's environment says (None); or the last line of its
    error when the step fails there."""
    env = dict(os.environ)
    if onednn is not None:
        env["TF_ENABLE_ONEDNN_OPTS"] = str(onednn)
    env["PYTHONPATH"] = os.path.dirname(os.path.dirname(script))
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    command = [
        sys.executable,
        script,
        "--train_step_only",
        f"--intra_op_threads={threads}",
        f"--channels={args.channels}",
        f"--cells={args.cells}",
        f"--batch={args.batch}",
        f"--image_size={args.image_size}",
        f"--repeats={args.repeats}",
    ]
    try:
        return json_line(command, env)["images_per_s"]
    except subprocess.CalledProcessError as error:
        lines = [line for line in error.stderr.splitlines() if line.strip()]
        return lines[-1] if lines else f"exit status {error.returncode}"


def onednn_rounds(scripts, args):
    """The training step of each of `scripts` with oneDNN on and off, in
    `args.rounds` rounds that alternate the scripts (the machine's load
    drifts: a ratio of two runs of one round compares like with like).

    Returns:
        `{name: ([rates with oneDNN on], [rates with it off])}`, a rate or
        a failure's message a round.
    """
    rates = {name: ([], []) for name in scripts}
    names = list(scripts)
    for round_ in range(args.rounds):
        order = names if round_ % 2 == 0 else names[::-1]
        for column, onednn in enumerate((1, 0)):
            for name in order:
                rates[name][column].append(
                    train_step_in_process(scripts[name], args, onednn)
                )
    return rates


def _median(rates):
    """The median of the rates that are numbers, or the first failure."""
    numbers = [r for r in rates if isinstance(r, float)]
    return statistics.median(numbers) if numbers else rates[0]


def checkout(revision, directory):
    """This file's repository at git `revision`, extracted into
    `directory`; returns the path of its copy of this benchmark."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    archive = subprocess.run(
        ["git", "-C", root, "archive", revision],
        check=True,
        capture_output=True,
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(directory, filter="data")
    return os.path.join(directory, "benchmarks", os.path.basename(__file__))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--channels", type=int, default=8)
    parser.add_argument("--cells", type=int, default=5)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--image_size", type=int, default=32)
    parser.add_argument("--steps", type=int, default=5, help="T")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--skip_xla", action="store_true")
    parser.add_argument("--torch", action="store_true")
    parser.add_argument("--intra_op_threads", type=int, default=0)
    parser.add_argument(
        "--rounds",
        type=int,
        default=3,
        help="rounds of the oneDNN on/off (and --baseline) comparison",
    )
    parser.add_argument(
        "--baseline",
        metavar="REV",
        help="also time the training step of git revision REV (e.g. a "
        "commit before a change), with oneDNN on and off",
    )
    parser.add_argument(
        "--train_step_only",
        action="store_true",
        help="print only the training step's images/s, as JSON",
    )
    args = parser.parse_args()
    tf.config.threading.set_intra_op_parallelism_threads(args.intra_op_threads)
    b, s, t = args.batch, args.image_size, args.steps

    if args.train_step_only:
        net = Supernet("darts", channels=args.channels, num_cells=args.cells)
        rate = training_step_rate(net, b, s, args.repeats)
        print(json.dumps({"images_per_s": rate}))
        return

    print(
        f"config: DARTS, C={args.channels}, {args.cells} cells, batch {b}, "
        f"{s}x{s}x3, T={t}; TF {tf.__version__}, "
        f"{os.cpu_count()} CPU threads, devices "
        f"{[d.name for d in tf.config.list_logical_devices()]}",
        flush=True,
    )
    start = time.perf_counter()
    net = Supernet("darts", channels=args.channels, num_cells=args.cells)
    build = time.perf_counter() - start
    images, labels = batches(t, b, s)
    function = tf.function(inference.inner_loop, autograph=False)
    loop_args = inner_loop_args(net, images, labels)
    start = time.perf_counter()
    function.get_concrete_function(*loop_args)
    trace = time.perf_counter() - start
    start = time.perf_counter()
    function(*loop_args)[0].mu.numpy()
    first_run = time.perf_counter() - start
    loop_s = timed(lambda: function(*loop_args), args.repeats)
    optimise = max(0.0, first_run - loop_s)
    rows = [
        (
            "inner loop, eager (T=1)",
            eager_rate(net, images, labels, args.repeats),
        ),
        ("inner loop, tf.function", t * b / loop_s),
    ]
    if not args.skip_xla:
        xla_function = tf.function(
            inference.inner_loop, autograph=False, jit_compile=True
        )
        xla_args = inner_loop_args(net, images[:1], labels[:1])

        def xla():
            return xla_function(*xla_args)

        start = time.perf_counter()
        xla()[0].mu.numpy()
        xla_compile = time.perf_counter() - start
        rows.append(
            (
                f"inner loop, XLA (T=1; compile {xla_compile:.0f} s)",
                b / timed(xla, min(2, args.repeats)),
            )
        )
    step_rate = training_step_rate(net, b, s, args.repeats)
    rows.append(("supernet training step, tf.function", step_rate))
    here = os.path.abspath(__file__)
    one_thread = train_step_in_process(here, args, threads=1)
    rows.append(("  the same, 1 thread an op", one_thread))
    scripts = {"this tree": here}
    with tempfile.TemporaryDirectory() as directory:
        if args.baseline:
            scripts[f"baseline {args.baseline}"] = checkout(
                args.baseline, directory
            )
        by_onednn = onednn_rounds(scripts, args)
    torch = None
    if args.torch:
        torch = json_line(
            [
                sys.executable,
                os.path.join(
                    os.path.dirname(__file__), "torch_darts_reference.py"
                ),
                "--json",
                f"--channels={args.channels}",
                f"--layers={args.cells}",
                f"--batch={b}",
                f"--image_size={s}",
                f"--steps={args.repeats}",
                "--warmup=2",
            ]
        )["median_images_per_s"]
        rows.append(("PyTorch DARTS reference training step", torch))
    small_eager, small_function = eager_and_function(net, 4, 16, args.repeats)

    flops = forward_flops(net, b, s) / b
    ceiling = conv_ceiling(args.repeats)
    print(f"\nbuild supernet ({net.num_parameters:,} weights): {build:.2f} s")
    print(f"trace the T={t} inner loop: {trace:.1f} s")
    print(f"optimise its graph (first run - later run): {optimise:.1f} s")
    print(
        f"build + first trace: {build + trace + optimise:.1f} s (target < 15 s)"
    )
    print(f"\n{'':44s} {'images/s':>9s} {'GFLOP/s':>8s}")
    for name, rate in rows:
        if not isinstance(rate, float):
            print(f"{name:44s} {'fails':>9s}  {rate}")
            continue
        gflops = 3 * flops * rate / 1e9  # forward + backward ~ 3 forwards
        print(f"{name:44s} {rate:9.1f} {gflops:8.2f}")
    print(
        f"{'large 3x3 conv, 256 -> 256 (ceiling)':44s} {'':9s} {ceiling:8.2f}"
    )
    print(f"{'batch 4, 16x16: inner loop, eager (T=1)':44s} {small_eager:9.1f}")
    print(
        f"{'batch 4, 16x16: inner loop, tf.function':44s} {small_function:9.1f}"
    )
    eager, function_rate = rows[0][1], rows[1][1]
    print(
        f"\ntf.function / eager: {function_rate / eager:.1f}x at batch {b}, "
        f"{s}x{s}; {small_function / small_eager:.1f}x at batch 4, 16x16 "
        "(target >= 8x)"
    )
    if not args.skip_xla:
        print(f"XLA / tf.function: {rows[2][1] / function_rate:.2f}x")
    print(
        f"\n{'training step, images/s (median of rounds)':44s} "
        f"{'oneDNN on':>10s} {'off':>10s}"
    )
    for name, (on, off) in by_onednn.items():
        print(
            f"{name:44s} {_rate(_median(on)):>10s} {_rate(_median(off)):>10s}"
        )
    if torch:
        print(
            f"{'PyTorch DARTS reference (no oneDNN setting)':44s} {torch:10.1f}"
        )
    for name, settings in by_onednn.items():
        for what, rates in zip(("on", "off"), settings, strict=True):
            failures = [r for r in rates if not isinstance(r, float)]
            if failures:
                print(f"{name}, oneDNN {what}: fails: {failures[0]}")
    if args.baseline:
        mine, base = by_onednn["this tree"], list(by_onednn.values())[1]
        for what, a, b in zip(("on", "off"), mine, base, strict=True):
            ratios = [
                x / y
                for x, y in zip(a, b, strict=True)
                if isinstance(x, float) and isinstance(y, float)
            ]
            if ratios:
                print(
                    f"this tree / baseline, oneDNN {what}: median "
                    f"{statistics.median(ratios):.2f}x of the rounds' "
                    f"{', '.join(f'{r:.2f}' for r in ratios)} "
                    "(target >= 0.9x)"
                )
    if torch:
        on, off = (_median(r) for r in by_onednn["this tree"])
        print(
            f"training step / PyTorch reference: {step_rate / torch:.2f}x "
            f"default threads, {_ratio(one_thread, torch)} 1 thread an op, "
            f"{_ratio(on, torch)} oneDNN on, {_ratio(off, torch)} oneDNN off "
            "(target >= 3x)"
        )
    print(
        f"forward pass: {flops / 1e6:.0f} MFLOP an image; the training step "
        f"reaches {100 * 3 * flops * step_rate / 1e9 / ceiling:.0f}% of the "
        "large-conv ceiling"
    )


def _rate(rate):
    return f"{rate:.1f}" if isinstance(rate, float) else "fails"


def _ratio(rate, reference):
    return f"{rate / reference:.2f}x" if isinstance(rate, float) else "-"


if __name__ == "__main__":
    main()
