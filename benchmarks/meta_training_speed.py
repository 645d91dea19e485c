"""Where a meta-training epoch's time goes: tasks per second, by phase.

    PYTHONPATH=. python benchmarks/meta_training_speed.py    # configs/tiny.cfg

Runs `bin/meta_train` as a user does (`--flagfile`, here
`configs/tiny.cfg` by default, for `--epochs` epochs into a fresh folder;
no held-out evaluation at the end), in a process of its own, and reads
back the phase times the trainer writes to TensorBoard each epoch
(`meta_training.PHASES`, `time/<phase>`, and `time/checkpoint`). Prints,
over `--repeats` such processes:

* the process's wall time and its first epoch (which traces the inner
  loop) against the median later epoch;
* tasks per second of the later epochs (median epoch);
* each phase's median seconds an epoch and its share of the epoch;
* the inner-loop traces of the run (one per image size when nothing
  retraces);
* within the adaptation phase, the share of the accuracies before and
  after the inner loop (two passes of the posterior mean network over the
  task's validation set), timed in this process on the run's prior at the
  config's shapes: the inner loop alone against the accuracies alone,
  each compiled as the trainer compiles them.

Medians; the machine is noisy, so compare shares and ratios.
"""

import argparse
import glob
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np
import tensorflow as tf
from tensorflow.core.util import event_pb2

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from base_tf import inference, meta_training  # noqa: E402

PHASES = (*meta_training.PHASES, "checkpoint")


def run_meta_training(flagfile, epochs, output_dir, extra, root=ROOT):
    """One `bin/meta_train` process of the code at `root`; returns its wall
    seconds."""
    command = [
        sys.executable,
        "-m",
        "bin.meta_train",
        f"--flagfile={flagfile}",
        f"--output_dir={output_dir}",
        f"--epochs={epochs}",
        "--eval_tasks=0",
        *extra,
    ]
    start = time.perf_counter()
    done = subprocess.run(
        command,
        cwd=root,
        env={**os.environ, "PYTHONPATH": root},
        capture_output=True,
        text=True,
    )
    if done.returncode:
        sys.exit(f"{' '.join(command)} failed:\n{done.stderr[-3000:]}")
    return time.perf_counter() - start


def epoch_scalars(output_dir):
    """{epoch: {tag: value}} of the run's TensorBoard logs; "written" is
    when the epoch's "elbo" was written (any version writes it), so
    epoch e took written[e] - written[e - 1] seconds."""
    rows = {}
    for path in glob.glob(os.path.join(output_dir, "logs", "*")):
        for raw in tf.data.TFRecordDataset(path):
            event = event_pb2.Event.FromString(raw.numpy())
            row = rows.setdefault(event.step, {})
            for value in event.summary.value:
                if value.tag == "elbo":
                    row["written"] = event.wall_time
                elif value.tag.startswith("time/") or value.tag == "traces":
                    row[value.tag] = float(tf.make_ndarray(value.tensor))
    return {e: row for e, row in rows.items() if "written" in row}


def checkout(revision, folder):
    """The files of git `revision` of this repository, in `folder`."""
    archive = subprocess.run(
        ["git", "archive", revision], cwd=ROOT, capture_output=True, check=True
    ).stdout
    os.makedirs(folder)
    subprocess.run(["tar", "-x", "-C", folder], input=archive, check=True)
    return folder


def measure(flagfile, epochs, repeats, extra, root, scratch, name):
    """`repeats` runs of the code at `root`: their wall times, first-epoch
    times, later epochs (each with its "seconds") and trace counts."""
    walls, firsts, later, traces = [], [], [], []
    for r in range(repeats):
        output_dir = os.path.join(scratch, f"{name}{r}")
        walls.append(
            run_meta_training(flagfile, epochs, output_dir, extra, root)
        )
        rows = epoch_scalars(output_dir)
        epochs_run = [rows[e] for e in sorted(rows)]
        firsts.append(
            sum(epochs_run[0].get(f"time/{p}", float("nan")) for p in PHASES)
        )
        for before, row in zip(epochs_run[:-1], epochs_run[1:], strict=True):
            later.append({**row, "seconds": row["written"] - before["written"]})
        traces.append(epochs_run[-1].get("traces", float("nan")))
    return {
        "walls": walls,
        "first_epochs": firsts,
        "later_epochs": later,
        "traces": traces,
        "output_dir": output_dir,
    }


def evaluation_share(output_dir, repeats):
    """Seconds of the inner loop alone and of the two accuracies alone, at
    the run's shapes, on its prior; each compiled without autograph, as
    the trainer compiles its adaptation step."""
    config, model = meta_training.load_prior(output_dir)
    net, w = model.supernet, model.meta_parameters
    size, batch = config.image_size, config.batch_size
    settings = meta_training.read_settings(output_dir)
    channels = settings["image_channels"]
    val = config.num_classes * int(settings["val_per_class"])
    num_train = config.num_classes * int(settings["train_per_class"])
    rng = np.random.default_rng(0)
    images = tf.constant(
        rng.random((config.inner_steps, batch, size, size, channels)),
        tf.float32,
    )
    labels = tf.constant(
        rng.integers(0, config.num_classes, (config.inner_steps, batch)),
        tf.int32,
    )
    val_images = tf.constant(
        rng.random((val, size, size, channels)), tf.float32
    )
    val_labels = tf.constant(rng.integers(0, config.num_classes, val), tf.int32)
    hard = config.arch_sample != "relaxed"
    sampled_only = config.arch_sample == "gdas"

    def loop():
        params, _ = inference.inner_loop(
            net, w, images, labels, config.inner_loop, tf.constant(1.0),
            tf.constant(float(num_train)), tf.constant([0, 0], tf.int64),
        )  # fmt: skip
        return params.logits

    def accuracies():
        before = inference.posterior_mean_accuracy(
            net, w, val_images, val_labels, hard, sampled_only
        )
        after = inference.posterior_mean_accuracy(
            net, w, val_images, val_labels, hard, sampled_only
        )
        return before + after

    seconds = []
    for fn in (loop, accuracies):
        compiled = tf.function(fn, autograph=False)
        compiled().numpy()  # trace
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            compiled().numpy()
            times.append(time.perf_counter() - start)
        seconds.append(statistics.median(times))
    return seconds


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--flagfile", default="configs/tiny.cfg")
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument(
        "--extra",
        default="",
        help="more bin/meta_train flags, space-separated",
    )
    parser.add_argument(
        "--baseline",
        default=None,
        help="also time the code of this git revision, side by side",
    )
    parser.add_argument(
        "--out", default="benchmarks/results/meta_training_speed"
    )
    args = parser.parse_args()
    extra = args.extra.split()
    runs = {}
    with tempfile.TemporaryDirectory() as scratch:
        roots = {"this": ROOT}
        if args.baseline:
            roots = {
                "baseline": checkout(
                    args.baseline, os.path.join(scratch, "baseline")
                ),
                **roots,
            }
        for name, root in roots.items():
            runs[name] = measure(
                args.flagfile, args.epochs, args.repeats, extra, root,
                scratch, name,
            )  # fmt: skip
        output_dir = runs["this"]["output_dir"]
        tasks_per_epoch = meta_training.read_config(output_dir).tasks_per_epoch
        loop_s, accuracy_s = evaluation_share(output_dir, repeats=5)
    lines = [
        f"command: benchmarks/meta_training_speed.py {' '.join(sys.argv[1:])}",
        f"bin/meta_train --flagfile={args.flagfile} --epochs={args.epochs} "
        f"--eval_tasks=0 {args.extra}".rstrip()
        + f"; {args.repeats} processes each; {tasks_per_epoch} tasks an epoch;"
        " epochs after the first",
        "",
        "                                 "
        + "".join(f"{n:>12s}" for n in runs),
    ]

    def row(label, values, fmt):
        lines.append(f"{label:33s}" + "".join(f"{v:{fmt}}" for v in values))

    def median_of(run, key):
        return statistics.median(e[key] for e in run["later_epochs"])

    epoch_s = [median_of(r, "seconds") for r in runs.values()]
    walls = [statistics.median(r["walls"]) for r in runs.values()]
    row("process wall time (s), median", walls, "12.2f")
    row("epoch (s), median", epoch_s, "12.3f")
    row("tasks per second", [tasks_per_epoch / e for e in epoch_s], "12.2f")
    if args.baseline:
        lines.append(
            f"{'  this / baseline':33s}{'':12s}{epoch_s[0] / epoch_s[1]:12.2f}x"
        )
    this = runs["this"]
    lines += [
        "",
        f"this code: first epoch {statistics.median(this['first_epochs']):.2f}"
        f" s (traces the inner loop); inner-loop traces a run: "
        + ", ".join(f"{t:g}" for t in this["traces"]),
        "phase of an epoch (this code)   median s   share",
    ]
    epoch = epoch_s[-1]
    for phase in PHASES:
        value = median_of(this, f"time/{phase}")
        lines.append(f"  {phase:28s} {value:9.4f}   {value / epoch:5.1%}")
    eval_share = accuracy_s / (loop_s + accuracy_s)
    lines += [
        "",
        "within adaptation, one task (this process, the run's shapes):",
        f"  inner loop alone (s)        {loop_s:8.4f}",
        f"  accuracies before + after   {accuracy_s:8.4f}   "
        f"{eval_share:5.1%} of the two",
    ]
    print("\n".join(lines))
    os.makedirs(os.path.dirname(args.out) or ".", exist_ok=True)
    with open(args.out + ".txt", "w") as f:
        f.write("\n".join(lines) + "\n")
    with open(args.out + ".json", "w") as f:
        json.dump(
            {
                "settings": vars(args),
                "runs": runs,
                "inner_loop_seconds": loop_s,
                "accuracies_seconds": accuracy_s,
            },
            f,
            indent=1,
        )


if __name__ == "__main__":
    main()
