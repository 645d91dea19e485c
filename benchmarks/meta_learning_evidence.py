"""Does meta-training help? Meta-trained W against W_0 on held-out tasks.

    PYTHONPATH=. python benchmarks/meta_learning_evidence.py \
        --flagfile=configs/prior_nas_bench_201.cfg --seeds=0,1,2 \
        --meta_test_tasks=10

The settings are a `bin/meta_train` config's: this script defines
bin/meta_train's flags itself, with its names, kinds and defaults (those of
`MetaTrainingConfig` and `meta_train_settings.TaskSettings`), and the
thread flags its configs set; it reads them (a --flagfile, then any flag
after it) into a `MetaTrainingConfig` and a `TaskSettings` with
`base_tf.meta_train_settings`, as bin/meta_train does, and builds the task
distribution with `TaskSettings.task_distribution`, so a shipped config
runs here exactly as `python -m bin.meta_train --flagfile=...` runs it.
Without --flagfile, `configs/prior_nas_bench_201.cfg` is read (run from
the repository's root, as the configs name each other by such paths; the
shipped NAS-Bench-201 prior's config: 10-class Tiny-ImageNet tasks at 16
and 32 pixels, the classes that overlap CIFAR-10 and CIFAR-10 itself held
out).

For each seed of --seeds (the config's --seed is replaced by it):

1. a `MetaTrainer` is meta-trained on the config's meta-training tasks
   (`meta_train` view) into a temporary folder;
2. a second `MetaTrainer` with the same config (hence the same seeded W_0)
   is built in another temporary folder and never trained: the baseline;
3. both adapt, with `MetaTrainer.evaluate`, to the same --meta_test_tasks
   held-out tasks of each held-out source (the `meta_test` view, one
   source at a time, as bin/meta_train's end-of-run check does), at the
   config's --image_size:
   * a source with --held_out_classes (e.g. Tiny-ImageNet without the
     classes that overlap CIFAR-10): K-class tasks of the classes
     meta-training never saw, the classical few-shot setting;
   * a source of --held_out_datasets (e.g. CIFAR-10): K-class tasks of a
     dataset meta-training never saw at all (BASE's "adapt to a new
     dataset"); with K=10, every CIFAR-10 class in every task.

Fairness: both arms share the config (T, the learning rates, the KL
weights, the batch size), so `evaluate` gives them the same temperature
(the last epoch's), the same tasks (task i of the same seeded view), the
same inner-loop batches (seeded by the task index) and the same Gumbel and
weight noise (seeded by (seed, task index)). The only difference is W:
meta-trained or W_0. The script checks that the baseline's W equals the
meta-trained trainer's W before training.

Labels are assigned per task (label i is the i-th class drawn), so a prior's
classifier cannot know a new task's labels: "before" (the prior's mean
network, no adaptation) is near chance, 1/K, for both arms; what
meta-training can improve is how far T inner steps get, "after".

Of the config's flags, three do not apply here and are printed as such:
--output_dir (each arm runs in a temporary folder), --eval_tasks (the
binary's end-of-run check; --meta_test_tasks replaces it) and --seed
(--seeds replaces it); --strategy must be "default".

Prints the command, every flag (bin/meta_train's and this script's), the
resolved config, the meta-training and meta-test partitions, one table
per meta-test set (per seed, then the mean and sample std over seeds) and
the difference and ratio of the two arms.

The MNIST / Fashion-MNIST evidence this script used to run by default
(its own flag defaults, no shipped config) is now a command line of
bin/meta_train's flags:

    PYTHONPATH=. python benchmarks/meta_learning_evidence.py \
        --flagfile=/dev/null --search_space=nas_bench_201 --channels=8 \
        --num_cells=1 --datasets=mnist,fashion_mnist,cifar10 \
        --held_out_datasets=cifar10 \
        --held_out_classes=fashion_mnist:5,6,7,8,9 --num_classes=5 \
        --image_size=16 --train_per_class=50 --val_per_class=20 \
        --epochs=30 --tasks_per_epoch=4 --inner_steps=5 --batch_size=16 \
        --learning_rate=0.1 --final_temperature=1.0 --meta_test_tasks=20

(the same settings; the meta-training tasks are drawn from one
distribution over the three sources, so not the same tasks as before).
"""

import dataclasses
import json
import os
import shlex
import sys
import tempfile
import time

import numpy as np
import tensorflow as tf
from absl import app, flags, logging

from base_tf import inference, meta_train_settings, meta_training, search_space
from base_tf.data import tiny_imagenet

_DEFAULTS = meta_training.MetaTrainingConfig()
_TASK_DEFAULTS = meta_train_settings.TaskSettings()

# bin/meta_train's flags, with its names, kinds and defaults (see there for
# what each means), so that its configs read the same here.
flags.DEFINE_enum(
    "search_space",
    _DEFAULTS.search_space,
    sorted(search_space.SPACES),
    "Search space of the supernet's cells.",
)
flags.DEFINE_integer("channels", _DEFAULTS.channels, "C of the supernet.")
flags.DEFINE_integer(
    "num_cells",
    _DEFAULTS.num_cells,
    "Cells of the supernet (nas_bench_201: cells in each of its 3 stages).",
)
flags.DEFINE_list(
    "datasets",
    list(_TASK_DEFAULTS.datasets),
    "Datasets the tasks are drawn from.",
)
flags.DEFINE_list(
    "held_out_datasets",
    list(_TASK_DEFAULTS.held_out_datasets),
    "Those of --datasets kept out of meta-training: meta-test sets.",
)
flags.DEFINE_list(
    "held_out_classes",
    list(_TASK_DEFAULTS.held_out_classes),
    "Classes of --datasets kept out of meta-training (dataset:class "
    "entries): meta-test sets.",
)
flags.DEFINE_integer(
    "num_classes", _DEFAULTS.num_classes, "K, the classes of each task."
)
flags.DEFINE_integer(
    "image_size",
    _DEFAULTS.image_size,
    "Task images' height and width (meta-test tasks are at this size).",
)
flags.DEFINE_list(
    "image_sizes",
    None,
    "Sizes meta-training tasks are drawn at, in turn; unset: --image_size.",
)
flags.DEFINE_integer(
    "image_channels",
    _TASK_DEFAULTS.image_channels,
    "Channels of the task images: 3 (RGB) or 1 (grey).",
)
flags.DEFINE_integer(
    "train_per_class",
    _TASK_DEFAULTS.train_per_class,
    "Training examples of each class of a task.",
)
flags.DEFINE_integer(
    "val_per_class",
    _TASK_DEFAULTS.val_per_class,
    "Validation examples of each class of a task.",
)
flags.DEFINE_string(
    "data_dir",
    _TASK_DEFAULTS.data_dir,
    "Folder where TFDS datasets are prepared (default: TFDS's).",
)
flags.DEFINE_integer("epochs", _DEFAULTS.epochs, "E, meta-training epochs.")
flags.DEFINE_integer(
    "tasks_per_epoch", _DEFAULTS.tasks_per_epoch, "C, tasks each epoch."
)
flags.DEFINE_integer(
    "inner_steps", _DEFAULTS.inner_steps, "T, inner-loop steps of a task."
)
flags.DEFINE_integer(
    "batch_size", _DEFAULTS.batch_size, "Examples in each inner step's batch."
)
flags.DEFINE_float(
    "meta_learning_rate",
    _DEFAULTS.meta_learning_rate,
    "lambda, the meta step size.",
)
flags.DEFINE_float(
    "learning_rate",
    _DEFAULTS.learning_rate,
    "eta, the inner loop's step size for mu and rho.",
)
flags.DEFINE_float(
    "arch_learning_rate",
    _DEFAULTS.arch_learning_rate,
    "The inner loop's step size for the architecture logits phi.",
)
flags.DEFINE_enum(
    "arch_optimizer",
    _DEFAULTS.arch_optimizer,
    list(inference.OPTIMIZERS),
    "How the inner loop steps phi.",
)
flags.DEFINE_float(
    "rho_learning_rate",
    _DEFAULTS.rho_learning_rate,
    "The inner loop's step size for rho; unset: --learning_rate.",
)
flags.DEFINE_enum(
    "arch_sample",
    _DEFAULTS.arch_sample,
    list(inference.SAMPLES),
    "The z each inner step trains on.",
)
flags.DEFINE_float(
    "kl_architecture", _DEFAULTS.kl_architecture, "beta_z, KL weight of z."
)
flags.DEFINE_float(
    "kl_weights", _DEFAULTS.kl_weights, "beta_theta, KL weight of theta."
)
flags.DEFINE_float(
    "initial_temperature",
    _DEFAULTS.initial_temperature,
    "tau in the first epoch.",
)
flags.DEFINE_float(
    "final_temperature",
    _DEFAULTS.final_temperature,
    "tau in the last epoch (both arms are evaluated at it).",
)
flags.DEFINE_float(
    "prior_sigma", _DEFAULTS.prior_sigma, "sigma of p(theta) before training."
)
flags.DEFINE_integer("seed", _DEFAULTS.seed, "Not used: see --seeds.")
flags.DEFINE_integer(
    "checkpoint_every",
    _DEFAULTS.checkpoint_every,
    "Epochs between checkpoints of W.",
)
flags.DEFINE_string(
    "output_dir", "runs/meta_train", "Not used: temporary folders instead."
)
flags.DEFINE_enum(
    "strategy",
    "default",
    ["default", "mirrored", "multi_worker"],
    "Must be default: this benchmark runs on one device.",
)
flags.DEFINE_integer("eval_tasks", 2, "Not used: see --meta_test_tasks.")
# The thread flags of every bin/ program, which configs set.
flags.DEFINE_integer(
    "inter_op_threads",
    0,
    "Threads that run independent ops side by side (0: TensorFlow's choice).",
)
flags.DEFINE_integer(
    "intra_op_threads",
    0,
    "Threads one op may use (0: TensorFlow's choice).",
)
# This script's own.
flags.DEFINE_list(
    "seeds",
    ["0", "1", "2"],
    "One meta-training run a seed (each replaces the config's --seed).",
)
flags.DEFINE_integer(
    "meta_test_tasks",
    10,
    "Held-out tasks of each meta-test set, adapted by both arms (replaces "
    "the config's --eval_tasks).",
)

FLAGS = flags.FLAGS

_DEFAULT_FLAGFILE = "configs/prior_nas_bench_201.cfg"

# Flags of bin/meta_train that this script does not use.
_NOT_USED = {
    "output_dir": "each arm runs in a temporary folder",
    "eval_tasks": "replaced by --meta_test_tasks",
    "seed": "replaced by --seeds",
}


def meta_test_sets(tasks, settings):
    """`{name: view}`: the meta-test view of each held-out source of the
    `TaskDistribution` `tasks` of the `TaskSettings` `settings`."""
    test = tasks.meta_test
    sets = {}
    for source in test.source_probabilities():
        ids = test.class_ids(source)
        k = f"{test.num_classes} a task"
        if source in settings.held_out_datasets:
            name = f"unseen dataset {source} (all {len(ids)} classes, {k})"
        else:
            name = f"held-out classes of {source} ({len(ids)} classes, {k})"
        sets[name] = test.only(source)
    if not sets:
        raise ValueError(
            "Nothing to meta-test on: the config holds out no dataset "
            "(--held_out_datasets) and no class (--held_out_classes)."
        )
    return sets


def describe_partitions(tasks, settings):
    """Lines naming the classes of each partition, for the log."""
    sources = {s.name: s for s in tasks.sources}
    lines = []
    for label, view in (
        ("meta-training", tasks.meta_train),
        ("meta-test", tasks.meta_test),
    ):
        for name, p in view.source_probabilities().items():
            ids = view.class_ids(name)
            lines.append(
                f"  {label}: {name}, {len(ids)} of its "
                f"{sources[name].num_classes} classes (task probability "
                f"{p:.2f})"
            )
    held = meta_train_settings.held_out_classes(settings.held_out_classes)
    if "tiny_imagenet" in held:
        same = set(held["tiny_imagenet"]) == set(tiny_imagenet.CIFAR10_OVERLAP)
        lines.append(
            f"  held-out Tiny-ImageNet classes "
            f"{'==' if same else '!='} tiny_imagenet.CIFAR10_OVERLAP "
            f"({len(held['tiny_imagenet'])} WordNet ids)"
        )
    return lines


def same_w(a, b):
    return all(
        np.array_equal(x.numpy(), y.numpy())
        for x, y in zip(tf.nest.flatten(a), tf.nest.flatten(b), strict=True)
    )


def run_seed(config, settings, root):
    """Meta-trains one seed and evaluates both arms on every meta-test set.

    Returns:
        `{test name: {"meta": metrics, "w0": metrics}}` and a dict of
        timings and meta-training metrics.
    """
    seed = config.seed
    tasks = settings.task_distribution(config)
    tests = meta_test_sets(tasks, settings)
    start = time.perf_counter()
    trained = meta_training.MetaTrainer(
        config, tasks, os.path.join(root, f"seed{seed}_meta")
    )
    w0 = trained.model.meta_parameters
    history = trained.train(verbose=0)
    train_seconds = time.perf_counter() - start

    start = time.perf_counter()
    baseline = meta_training.MetaTrainer(
        config, tasks, os.path.join(root, f"seed{seed}_w0")
    )
    if int(baseline.epoch.numpy()) or not same_w(
        baseline.model.meta_parameters, w0
    ):
        raise AssertionError("The baseline's W is not the run's W_0.")
    # The same temperature for both arms, stated explicitly (it is
    # evaluate's default: the last epoch's).
    temperature = config.temperature(config.epochs - 1)
    results = {}
    for name, view in tests.items():
        results[name] = {
            arm: trainer.evaluate(view, FLAGS.meta_test_tasks, temperature)
            for arm, trainer in (("meta", trained), ("w0", baseline))
        }
    eval_seconds = time.perf_counter() - start
    last = history[-1] if history else {}
    info = {
        "train_seconds": train_seconds,
        "eval_seconds": eval_seconds,
        "last_epoch": last,
        "skipped": sum(h["skipped_tasks"] for h in history),
        "num_weights": trained.supernet.num_parameters,
    }
    return results, info


def mean_std(values):
    values = np.asarray(values, np.float64)
    std = values.std(ddof=1) if len(values) > 1 else float("nan")
    return values.mean(), std


def print_table(name, seeds, per_seed, num_classes):
    keys = (
        ("w0", "val_accuracy_before"),
        ("meta", "val_accuracy_before"),
        ("w0", "val_accuracy_after"),
        ("meta", "val_accuracy_after"),
    )
    header = (
        f"{'seed':>6} | {'before W_0':>10} {'before W':>10} | "
        f"{'after W_0':>10} {'after W':>10} | {'after diff':>10} "
        f"{'ratio':>7} | {'tasks':>5}"
    )
    print(f"\n== {name}: chance = {1 / num_classes:.3f}")
    print(header)
    print("-" * len(header))
    columns = {k: [] for k in keys}
    diffs, ratios = [], []
    for seed, result in zip(seeds, per_seed, strict=True):
        row = [result[arm][metric] for arm, metric in keys]
        for k, v in zip(keys, row, strict=True):
            columns[k].append(v)
        diff = row[3] - row[2]
        ratio = row[3] / row[2] if row[2] else float("nan")
        diffs.append(diff)
        ratios.append(ratio)
        tasks = min(int(result[a]["finite_tasks"]) for a in ("meta", "w0"))
        print(
            f"{seed:>6} | {row[0]:>10.3f} {row[1]:>10.3f} | {row[2]:>10.3f} "
            f"{row[3]:>10.3f} | {diff:>+10.3f} {ratio:>7.2f} | {tasks:>5}"
        )
    print("-" * len(header))
    stats = [mean_std(columns[k]) for k in keys]
    d_mean, d_std = mean_std(diffs)
    r_mean, r_std = mean_std(ratios)
    print(
        f"{'mean':>6} | "
        + " ".join(f"{m:>10.3f}" for m, _ in stats[:2])
        + " | "
        + " ".join(f"{m:>10.3f}" for m, _ in stats[2:])
        + f" | {d_mean:>+10.3f} {r_mean:>7.2f} |"
    )
    print(
        f"{'std':>6} | "
        + " ".join(f"{s:>10.3f}" for _, s in stats[:2])
        + " | "
        + " ".join(f"{s:>10.3f}" for _, s in stats[2:])
        + f" | {d_std:>10.3f} {r_std:>7.2f} |"
    )
    positive = sum(d > 0 for d in diffs)
    print(
        f"after inner loop: W {stats[3][0]:.3f} vs W_0 {stats[2][0]:.3f}, "
        f"difference {d_mean:+.3f} +- {d_std:.3f} (sample std over "
        f"{len(diffs)} seeds; W better on {positive}/{len(diffs)} seeds), "
        f"ratio of means {stats[3][0] / stats[2][0]:.2f}"
    )


def print_flags():
    """Every flag this run reads: bin/meta_train's and this script's."""
    print(f"flags of {os.path.relpath(sys.argv[0])}:")
    defined = FLAGS.flags_by_module_dict().get(sys.argv[0], [])
    for flag in sorted(defined, key=lambda f: f.name):
        text = flag.serialize() or f"--{flag.name}  (unset)"
        note = _NOT_USED.get(flag.name)
        print(f"  {text}" + (f"  [not used: {note}]" if note else ""))


def main(argv):
    del argv
    # Errors only, unless --verbosity is given, as bin/ programs log (TFDS
    # logs every dataset it reads); the threads before any TensorFlow op.
    if not FLAGS["verbosity"].present:
        logging.set_verbosity(logging.ERROR)
    tf.config.threading.set_inter_op_parallelism_threads(FLAGS.inter_op_threads)
    tf.config.threading.set_intra_op_parallelism_threads(FLAGS.intra_op_threads)
    wall = time.perf_counter()
    print("command: " + shlex.join([sys.executable, *sys.argv]))
    print_flags()
    if FLAGS.strategy != "default":
        raise ValueError(
            f"--strategy={FLAGS.strategy}: this benchmark runs on one device "
            "(--strategy=default)."
        )
    if FLAGS.meta_test_tasks < 1:
        raise ValueError("--meta_test_tasks must be >= 1.")
    seeds = [int(s) for s in FLAGS.seeds]
    values = FLAGS.flag_values_dict()
    base = meta_train_settings.meta_training_config(values, flags=FLAGS)
    settings = meta_train_settings.TaskSettings.from_values(values)
    configs = [dataclasses.replace(base, seed=s) for s in seeds]
    shown = base.to_dict()
    shown["seed"] = f"each of --seeds {seeds}"
    print("MetaTrainingConfig (both arms):")
    for key, value in shown.items():
        print(f"  {key}: {json.dumps(value)}")
    temperature = base.temperature(base.epochs - 1)
    print(
        f"meta-test: {FLAGS.meta_test_tasks} tasks a set at "
        f"{base.image_size}x{base.image_size}, K={base.num_classes}, "
        f"{settings.train_per_class} train / {settings.val_per_class} val "
        "images "
        f"a class, T={base.inner_steps} inner steps of {base.batch_size} "
        f"images, temperature {temperature:g} (the last epoch's) for both "
        "arms"
    )
    print("task distribution (seed-independent):")
    tasks = settings.task_distribution(base)
    for line in describe_partitions(tasks, settings):
        print(line)
    sys.stdout.flush()
    per_seed, infos = [], []
    with tempfile.TemporaryDirectory(prefix="meta_evidence_") as root:
        for config in configs:
            results, info = run_seed(config, settings, root)
            per_seed.append(results)
            infos.append(info)
            last = info["last_epoch"]
            print(
                f"seed {config.seed}: {info['num_weights']:,} weights; "
                f"meta-training {info['train_seconds']:.0f} s (last epoch: "
                f"train-task val accuracy "
                f"{last.get('val_accuracy_before', float('nan')):.3f} before"
                f" / {last.get('val_accuracy_after', float('nan')):.3f} "
                f"after, {int(info['skipped'])} tasks skipped), "
                f"evaluation {info['eval_seconds']:.0f} s",
                flush=True,
            )
    print(
        f"\nval accuracy of the prior's mean network ('before') and of the "
        f"posterior after T={base.inner_steps} inner steps ('after'), mean "
        f"over {FLAGS.meta_test_tasks} meta-test tasks x "
        f"{base.num_classes * settings.val_per_class} val examples; W = "
        f"meta-trained ({base.epochs} epochs x {base.tasks_per_epoch} "
        f"tasks), W_0 = the same initialisation untrained; ratio = after W / "
        f"after W_0"
    )
    for name in per_seed[0]:
        print_table(name, seeds, [r[name] for r in per_seed], base.num_classes)
    print(f"\nwall time: {time.perf_counter() - wall:.0f} s")


if __name__ == "__main__":
    if not any(a.startswith(("--flagfile", "-flagfile")) for a in sys.argv):
        # Relative to the repository's root, as the config's own --flagfile.
        sys.argv.insert(1, "--flagfile=" + _DEFAULT_FLAGFILE)
    app.run(main)
