"""Does meta-training help? Meta-trained W against W_0 on held-out tasks.

    PYTHONPATH=. .venv/bin/python benchmarks/meta_learning_evidence.py

For each seed, on real data (TFDS mnist, fashion_mnist, cifar10, prepared in
~/tensorflow_datasets):

1. a `MetaTrainer` is meta-trained briefly on K-class tasks of the
   meta-training classes (by default all of MNIST and Fashion-MNIST's
   classes 0-4) into a temporary folder;
2. a second `MetaTrainer` with the same config (hence the same seeded W_0)
   is built in another temporary folder and never trained: the baseline;
3. both adapt, with `MetaTrainer.evaluate`, to the same held-out tasks:
   * "held-out classes": K-class tasks of the classes meta-training never
     saw (Fashion-MNIST 5-9: sandal, shirt, sneaker, bag, ankle boot), the
     classical few-shot setting: same image statistics, new classes;
   * "unseen dataset": K-class tasks of CIFAR-10, which meta-training never
     saw at all (BASE's "adapt to a new dataset" setting; much harder to
     show a gap in a brief run, because grey digits and clothes say little
     about colour photographs).

Fairness: both arms share the config (T, the learning rates, the KL
weights, the batch size), so `evaluate` gives them the same temperature
(the last epoch's), the same tasks (task i of the same seeded
`TaskDistribution` view), the same inner-loop batches (seeded by the task
index) and the same Gumbel and weight noise (seeded by (seed, task index)).
The only difference is W: meta-trained or W_0. The script checks that the
baseline's W equals the meta-trained trainer's W before training.

Labels are assigned per task (label i is the i-th class drawn), so a prior's
classifier cannot know a new task's labels: "before" (the prior's mean
network, no adaptation) is at chance, 1/K, for both arms; what meta-training
can improve is how far T inner steps get, "after".

Prints the flags, one table per meta-test set (per seed, then the mean and
sample std over seeds), and the difference and ratio of the two arms.

Defaults (about 5-6 minutes on 2 busy CPU cores): a NAS-Bench-201 supernet,
C=8, one cell per stage (~99k weights), 16x16 images, K=5, 50 training and
20 validation images a class, E=30 epochs of C=4 tasks, T=5 inner steps of
16 images, 20 meta-test tasks a set. They were chosen on seed 10 (other
tasks, other W_0), not on the reported seeds; the two that matter, both
shared by the arms:

* --final_temperature=1.0 (no annealing; the library's default anneals
  from 1.0 to 0.2, and `evaluate` uses the last epoch's). At tau=0.2 the
  inner loop trains near-one-hot sampled architectures while the reported
  accuracy is the mean network's (z = softmax(phi)): T=5 steps help much
  less for either arm (W_0: 0.33 at tau=0.2, 0.45 at tau=1.0 on seed 10),
  and meta-training gains less (W: 0.40 after 30 epochs at tau=0.2);
* --learning_rate=0.1 (0.05 gives a similar gap, more slowly; 0.2-0.3
  diverge on some tasks).
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import shlex  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from absl import flags  # noqa: E402

from base_tf import data, meta_training, search_space  # noqa: E402
from bin import cli  # noqa: E402

_D = meta_training.MetaTrainingConfig()

flags.DEFINE_list("seeds", ["0", "1", "2"], "One meta-training run a seed.")
# The supernet.
flags.DEFINE_enum(
    "search_space", "nas_bench_201", sorted(search_space.SPACES), "Space."
)
flags.DEFINE_integer("channels", 8, "C of the first cells.")
flags.DEFINE_integer(
    "num_cells", 1, "Supernet cells (NAS-Bench-201: cells per stage)."
)
# The tasks.
flags.DEFINE_list(
    "datasets", ["mnist", "fashion_mnist"], "Meta-training sources."
)
flags.DEFINE_string(
    "held_out_classes",
    "fashion_mnist:5,6,7,8,9",
    "Classes kept for meta-testing, 'source:id,id,...' separated by ';' "
    "(empty: no held-out-classes test).",
)
flags.DEFINE_list(
    "unseen_datasets",
    ["cifar10"],
    "Whole datasets for a second meta-test, never meta-trained on (empty: "
    "none).",
)
flags.DEFINE_integer("num_classes", 5, "K, classes a task.")
flags.DEFINE_integer("image_size", 16, "Images are resized to this size.")
flags.DEFINE_string(
    "split",
    "train",
    "The source split tasks draw their (disjoint) train and val examples from.",
)
flags.DEFINE_integer("train_per_class", 50, "Training examples per class.")
flags.DEFINE_integer("val_per_class", 20, "Validation examples per class.")
flags.DEFINE_string("data_dir", None, "Prepared TFDS datasets (default).")
# The algorithm (shared by both arms).
flags.DEFINE_integer("epochs", 30, "E, meta-training epochs.")
flags.DEFINE_integer("tasks_per_epoch", 4, "C, tasks an epoch.")
flags.DEFINE_integer("inner_steps", 5, "T, inner steps (both arms).")
flags.DEFINE_integer("batch_size", 16, "Inner-step batch.")
flags.DEFINE_float("meta_learning_rate", _D.meta_learning_rate, "lambda.")
flags.DEFINE_float("learning_rate", 0.1, "Inner eta, (mu, rho).")
flags.DEFINE_float(
    "arch_learning_rate", _D.arch_learning_rate, "Inner eta, phi."
)
flags.DEFINE_float("kl_architecture", _D.kl_architecture, "beta_z.")
flags.DEFINE_float("kl_weights", _D.kl_weights, "beta_theta.")
flags.DEFINE_float("initial_temperature", _D.initial_temperature, "First tau.")
flags.DEFINE_float(
    "final_temperature",
    1.0,
    "Last tau (1.0: no annealing; the evaluation uses it, see --help).",
)
flags.DEFINE_float("prior_sigma", _D.prior_sigma, "Initial sigma of p(theta).")
# The evaluation.
flags.DEFINE_integer(
    "eval_tasks", 20, "Meta-test tasks a meta-test set, adapted by both arms."
)

FLAGS = flags.FLAGS

# MetaTrainingConfig fields that come from flags of the same name (seed is
# set per run; checkpoint_every is left at its default).
_CONFIG_FLAGS = [
    f
    for f in meta_training.MetaTrainingConfig.__dataclass_fields__
    if f not in ("seed", "checkpoint_every")
]


def parse_held_out_classes(text):
    """'a:1,2;b:3,4' -> {'a': [1, 2], 'b': [3, 4]} (names or ids)."""
    held = {}
    for part in filter(None, (p.strip() for p in text.split(";"))):
        name, _, classes = part.partition(":")
        ids = [c.strip() for c in classes.split(",") if c.strip()]
        held[name.strip()] = [int(c) if c.isdigit() else c for c in ids]
    return held


def task_config():
    size = FLAGS.image_size
    return data.TaskConfig(
        data.ImageSpec(size, size, 3),
        train_split=FLAGS.split,
        train_per_class=FLAGS.train_per_class,
        val_per_class=FLAGS.val_per_class,
    )


def distributions(seed):
    """The meta-training distribution and the named meta-test views.

    Every distribution is seeded with `seed`: the tasks of a run are a
    function of its seed, and both arms of a seed see the same ones.
    """
    held = parse_held_out_classes(FLAGS.held_out_classes)
    train = data.TaskDistribution(
        FLAGS.datasets,
        num_classes=FLAGS.num_classes,
        config=task_config(),
        held_out_classes=held,
        seed=seed,
        data_dir=FLAGS.data_dir,
    )
    tests = {}
    if held:
        described = "; ".join(
            f"{name} {', '.join(map(str, ids))}" for name, ids in held.items()
        )
        tests[f"held-out classes ({described})"] = train.meta_test
    if FLAGS.unseen_datasets:
        # A meta-training source is needed for the distribution to exist;
        # only its meta_test view (the unseen datasets alone) is used.
        unseen = data.TaskDistribution(
            [FLAGS.datasets[0], *FLAGS.unseen_datasets],
            num_classes=FLAGS.num_classes,
            config=task_config(),
            held_out_sources=FLAGS.unseen_datasets,
            seed=seed,
            data_dir=FLAGS.data_dir,
        )
        name = f"unseen dataset ({', '.join(FLAGS.unseen_datasets)})"
        tests[name] = unseen.meta_test
    if not tests:
        raise SystemExit(
            "Nothing to meta-test on: give --held_out_classes or "
            "--unseen_datasets."
        )
    return train, tests


def config_for(seed):
    return meta_training.MetaTrainingConfig(
        **{name: FLAGS[name].value for name in _CONFIG_FLAGS}, seed=seed
    )


def same_w(a, b):
    return all(
        np.array_equal(x.numpy(), y.numpy())
        for x, y in zip(tf.nest.flatten(a), tf.nest.flatten(b), strict=True)
    )


def run_seed(seed, root):
    """Meta-trains one seed and evaluates both arms on every meta-test set.

    Returns:
        `{test name: {"meta": metrics, "w0": metrics}}` and a dict of
        timings and meta-training metrics.
    """
    config = config_for(seed)
    train_dist, tests = distributions(seed)
    start = time.perf_counter()
    trained = meta_training.MetaTrainer(
        config, train_dist, os.path.join(root, f"seed{seed}_meta")
    )
    w0 = trained.model.meta_parameters
    history = trained.train(verbose=0)
    train_seconds = time.perf_counter() - start

    start = time.perf_counter()
    baseline = meta_training.MetaTrainer(
        config, train_dist, os.path.join(root, f"seed{seed}_w0")
    )
    if int(baseline.epoch.numpy()) or not same_w(
        baseline.model.meta_parameters, w0
    ):
        raise AssertionError("The baseline's W is not the run's W_0.")
    results = {}
    for name, view in tests.items():
        # The same temperature for both arms, stated explicitly (it is
        # evaluate's default: the last epoch's).
        temperature = config.temperature(config.epochs - 1)
        results[name] = {
            arm: trainer.evaluate(view, FLAGS.eval_tasks, temperature)
            for arm, trainer in (("meta", trained), ("w0", baseline))
        }
    eval_seconds = time.perf_counter() - start
    last = history[-1] if history else {}
    info = {
        "train_seconds": train_seconds,
        "eval_seconds": eval_seconds,
        "last_epoch": last,
        "skipped": sum(h["skipped_tasks"] for h in history),
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


def main(argv):
    del argv
    wall = time.perf_counter()
    print("command: " + shlex.join([sys.executable, *sys.argv]))
    print("flags:")
    for flag in FLAGS.get_key_flags_for_module(sys.argv[0]):
        print("  " + (flag.serialize() or f"--{flag.name}=  (unset)"))
    seeds = [int(s) for s in FLAGS.seeds]
    per_seed, infos = [], []
    with tempfile.TemporaryDirectory(prefix="meta_evidence_") as root:
        for seed in seeds:
            results, info = run_seed(seed, root)
            per_seed.append(results)
            infos.append(info)
            last = info["last_epoch"]
            print(
                f"seed {seed}: meta-training {info['train_seconds']:.0f} s "
                f"(last epoch: train-task val accuracy "
                f"{last.get('val_accuracy_before', float('nan')):.3f} before"
                f" / {last.get('val_accuracy_after', float('nan')):.3f} "
                f"after, {int(info['skipped'])} tasks skipped), "
                f"evaluation {info['eval_seconds']:.0f} s",
                flush=True,
            )
    print(
        f"\nval accuracy of the prior's mean network ('before') and of the "
        f"posterior after T={FLAGS.inner_steps} inner steps ('after'), mean "
        f"over {FLAGS.eval_tasks} meta-test tasks x "
        f"{FLAGS.num_classes * FLAGS.val_per_class} val examples; W = "
        f"meta-trained ({FLAGS.epochs} epochs x {FLAGS.tasks_per_epoch} "
        f"tasks), W_0 = the same initialisation untrained; ratio = after W / "
        f"after W_0"
    )
    for name in per_seed[0]:
        print_table(name, seeds, [r[name] for r in per_seed], FLAGS.num_classes)
    print(f"\nwall time: {time.perf_counter() - wall:.0f} s")


if __name__ == "__main__":
    cli.run(main)
