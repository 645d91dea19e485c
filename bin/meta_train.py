"""Meta-trains BASE's shared prior W on tasks drawn from several datasets.

    bazel run //bin:meta_train -- --flagfile=configs/tiny.cfg

Writes to --output_dir: the run's settings (every flag that changes W; see
base_tf/run_folder.py), checkpoints of W (resumed on a rerun with the same
settings; other settings are refused before any work, naming each), the
config, TensorBoard logs. One run at a time writes a folder. At the end it
adapts W to tasks of the held-out datasets and prints the validation
accuracy of the prior's mean network before and of the posterior after the
inner loop, and the prior's most probable op on every edge.
"""

from bin import cli  # First: it settles TensorFlow's logging (see there).

# isort: split
import os
import time

import numpy as np
import tensorflow as tf
from absl import flags

from base_tf import (
    inference,
    meta_train_settings,
    meta_training,
    run_folder,
    search_space,
)

_DEFAULTS = meta_training.MetaTrainingConfig()
_TASK_DEFAULTS = meta_train_settings.TaskSettings()

# The supernet.
flags.DEFINE_enum(
    "search_space",
    _DEFAULTS.search_space,
    sorted(search_space.SPACES),
    "Search space of the supernet's cells: darts (8 ops; normal and "
    "reduction cells) or nas_bench_201 (5 ops; one cell type).",
)
flags.DEFINE_integer(
    "channels",
    _DEFAULTS.channels,
    "C, the channels of the supernet's first cells (doubled at each "
    "reduction).",
)
flags.DEFINE_integer(
    "num_cells",
    _DEFAULTS.num_cells,
    "Cells of the supernet (nas_bench_201: cells in each of its 3 stages).",
)
# The tasks.
flags.DEFINE_list(
    "datasets",
    list(_TASK_DEFAULTS.datasets),
    "Datasets the tasks are drawn from: TFDS names or folders laid out as "
    "<split>/<class>/<image>.",
)
flags.DEFINE_list(
    "held_out_datasets",
    list(_TASK_DEFAULTS.held_out_datasets),
    "Those of --datasets kept out of meta-training, to adapt to at the end "
    "as datasets never seen (see --eval_tasks); empty: none.",
)
flags.DEFINE_list(
    "held_out_classes",
    list(_TASK_DEFAULTS.held_out_classes),
    "Classes of --datasets kept out of meta-training and adapted to at "
    "the end (as --held_out_datasets are): dataset:class entries, a class "
    "by name, id or (tiny_imagenet) WordNet id; an entry without "
    "'dataset:' belongs to the last dataset named, e.g. "
    "tiny_imagenet:n02124075,n02123045.",
)
flags.DEFINE_integer(
    "num_classes",
    _DEFAULTS.num_classes,
    "K, the classes of each task (the supernet's classifier has K outputs).",
)
flags.DEFINE_integer(
    "image_size",
    _DEFAULTS.image_size,
    "Task images are resized to this height and width (with "
    "--image_sizes: one of them, the size held-out tasks are evaluated at "
    "and adaptation's default).",
)
flags.DEFINE_list(
    "image_sizes",
    None,
    "Sizes meta-training tasks are drawn at, in turn (task c of an epoch "
    "at the (c mod n)-th; --tasks_per_epoch a multiple of n), so one W "
    "serves them all, as the paper's 32, 64 and 224; unset: --image_size "
    "alone.",
)
flags.DEFINE_integer(
    "image_channels",
    _TASK_DEFAULTS.image_channels,
    "Channels of the task images: 3 (RGB; grey images are repeated) or 1 "
    "(grey; RGB images are converted to their luma).",
)
flags.DEFINE_integer(
    "train_per_class",
    _TASK_DEFAULTS.train_per_class,
    "Training examples of each class of a task.",
)
flags.DEFINE_integer(
    "val_per_class",
    _TASK_DEFAULTS.val_per_class,
    "Validation examples of each class of a task, apart from its training "
    "examples: the reported accuracies are measured on them.",
)
flags.DEFINE_string(
    "data_dir",
    _TASK_DEFAULTS.data_dir,
    "Folder where TFDS datasets are prepared (default: TFDS's, "
    "$TFDS_DATA_DIR or ~/tensorflow_datasets).",
)
# The algorithm.
flags.DEFINE_integer(
    "epochs",
    _DEFAULTS.epochs,
    "E, meta-training epochs; each adapts W to --tasks_per_epoch tasks and "
    "moves W once.",
)
flags.DEFINE_integer(
    "tasks_per_epoch",
    _DEFAULTS.tasks_per_epoch,
    "C, tasks drawn each epoch; W moves toward the mean of their adapted "
    "parameters.",
)
flags.DEFINE_integer(
    "inner_steps",
    _DEFAULTS.inner_steps,
    "T, gradient steps on a task's ELBO that turn W into that task's "
    "posterior (the optimization embedding).",
)
flags.DEFINE_integer(
    "batch_size", _DEFAULTS.batch_size, "Examples in each inner step's batch."
)
flags.DEFINE_float(
    "meta_learning_rate",
    _DEFAULTS.meta_learning_rate,
    "lambda, the meta step size: how far W moves toward the tasks' adapted "
    "parameters each epoch, W += lambda * mean_c(W_c^T - W) (1: all the "
    "way to their mean).",
)
flags.DEFINE_float(
    "learning_rate",
    _DEFAULTS.learning_rate,
    "eta, the inner loop's step size for the weights' posterior q(theta|D) "
    "(its mean mu and its scale parameter rho).",
)
flags.DEFINE_float(
    "arch_learning_rate",
    _DEFAULTS.arch_learning_rate,
    "eta for phi, the inner loop's step size for the architecture logits "
    "of q(z|D).",
)
flags.DEFINE_enum(
    "arch_optimizer",
    _DEFAULTS.arch_optimizer,
    list(inference.OPTIMIZERS),
    "How the inner loop steps the architecture logits phi: sgd (phi += eta "
    "* gradient) or adam (Adam's preconditioned step, whose size is eta "
    "whatever the gradient's scale).",
)
flags.DEFINE_float(
    "rho_learning_rate",
    _DEFAULTS.rho_learning_rate,
    "The inner loop's step size for rho, the weights' scale parameter "
    "(sigma = softplus(rho)); unset: --learning_rate; 0: sigma stays at "
    "--prior_sigma.",
)
flags.DEFINE_enum(
    "arch_sample",
    _DEFAULTS.arch_sample,
    list(inference.SAMPLES),
    "The z each inner step trains on: relaxed (the Gumbel-softmax sample, "
    "every op of an edge mixed by its weight), hard (that sample's "
    "one-hot argmax with the relaxed gradient, straight-through) or gdas "
    "(the same one-hot sample, the gradient through the sampled op only).",
)
flags.DEFINE_integer(
    "arch_warmup_epochs",
    _DEFAULTS.arch_warmup_epochs,
    "The first epochs, in which the architecture logits hold still (the "
    "inner loop's phi does not step, so alpha does not move) while W's "
    "weights learn to fit tasks on architectures drawn from the uniform "
    "prior.",
)
flags.DEFINE_float(
    "kl_architecture",
    _DEFAULTS.kl_architecture,
    "beta_z, the weight of the architecture's KL(q(z|D) || p(z)) in the ELBO.",
)
flags.DEFINE_float(
    "kl_weights",
    _DEFAULTS.kl_weights,
    "beta_theta, the weight of the weights' KL(q(theta|D) || p(theta)) in "
    "the ELBO.",
)
flags.DEFINE_float(
    "initial_temperature",
    _DEFAULTS.initial_temperature,
    "tau in the first epoch: the Gumbel-softmax temperature of q(z|D), "
    "lowered geometrically to --final_temperature.",
)
flags.DEFINE_float(
    "final_temperature",
    _DEFAULTS.final_temperature,
    "tau in the last epoch (and adaptation's default).",
)
flags.DEFINE_float(
    "prior_sigma",
    _DEFAULTS.prior_sigma,
    "sigma, the standard deviation of the weights' prior p(theta) before "
    "meta-training.",
)
flags.DEFINE_integer(
    "seed",
    _DEFAULTS.seed,
    "Random seed of the initial W_0, the tasks drawn and the sampling noise.",
)
# The run.
flags.DEFINE_integer(
    "checkpoint_every",
    _DEFAULTS.checkpoint_every,
    "Epochs between checkpoints of W (and one at the end); a rerun resumes "
    "from the last.",
)
flags.DEFINE_string(
    "output_dir",
    "runs/meta_train",
    "Folder for the checkpoints, the config and TensorBoard logs; rerun "
    "with the same flags to resume, other flags are refused.",
)
flags.DEFINE_enum(
    "strategy",
    "default",
    ["default", "mirrored", "multi_worker"],
    "default: one device; mirrored: tasks spread over all local GPUs (or "
    "CPUs if none; see --cpu_devices), one task a replica; multi_worker: "
    "over the GPUs (or CPUs) of several machines, the cluster read from "
    "TF_CONFIG.",
)
flags.DEFINE_integer(
    "cpu_devices",
    0,
    "With --strategy=mirrored on a machine without GPUs: split its CPU into "
    "this many logical devices, one replica each, to try and measure "
    "replication without accelerators (the replicas share the same cores: "
    "not faster). 0: the devices as TensorFlow finds them (one CPU). "
    "Refused with a GPU present (the replicas are the GPUs) and with the "
    "other strategies (one replica a process on a CPU, whatever the split).",
)
flags.DEFINE_integer(
    "eval_tasks",
    2,
    "Tasks of --held_out_datasets to adapt to at the end, printing the "
    "validation accuracy before and after the inner loop (0: none).",
)

FLAGS = flags.FLAGS


def config_from_flags():
    """The config of the flags; a field with no flag (an option measured
    from Python, e.g. by a benchmark) keeps its default. A bad value is
    refused naming the flag, not the field."""
    return meta_train_settings.meta_training_config(
        FLAGS.flag_values_dict(), flags=FLAGS
    )


def task_distribution(config):
    """The `TaskDistribution` of the task flags (--datasets,
    --held_out_datasets, --held_out_classes, --image_channels,
    --train_per_class, --val_per_class, --data_dir) and of `config`'s K,
    image size and seed. Checks the datasets; no image is read until a task
    is drawn."""
    settings = meta_train_settings.TaskSettings.from_values(
        FLAGS.flag_values_dict()
    )
    return settings.task_distribution(config)


def split_cpu(cpu_devices, strategy):
    """Splits the one physical CPU into `cpu_devices` logical devices, for
    `make_strategy("mirrored")` to find that many replicas.

    Replication can then be run, tested and timed on a machine without
    accelerators; it must happen before TensorFlow initialises, so before
    any other TF op. 0 and 1 leave the devices as they are. Refused where
    the split would not mean what it says: with a GPU (those are the
    replicas; the CPU is never chosen over them) or with a strategy that
    runs one replica a process on a CPU-only machine whatever the split
    (default, multi_worker).
    """
    if cpu_devices < 0:
        raise ValueError(
            f"--cpu_devices={cpu_devices}: give how many logical CPU devices "
            "to split the CPU into (2 or more), or 0 to leave the devices "
            "as TensorFlow finds them."
        )
    if cpu_devices <= 1:
        return
    if strategy != "mirrored":
        runs = {
            "default": "runs on one device",
            "multi_worker": "runs one replica a worker on a CPU-only machine",
        }[strategy]
        raise ValueError(
            f"--cpu_devices={cpu_devices} makes replicas for "
            f"--strategy=mirrored only: --strategy={strategy} {runs}, "
            "whatever the split."
        )
    if tf.config.list_physical_devices("GPU"):
        raise ValueError(
            f"--cpu_devices={cpu_devices} is for machines without GPUs: "
            "here --strategy=mirrored replicates over the GPUs; leave "
            "--cpu_devices out."
        )
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(
        cpu, [tf.config.LogicalDeviceConfiguration()] * cpu_devices
    )


def make_strategy(name):
    if name == "multi_worker":
        return tf.distribute.MultiWorkerMirroredStrategy()
    if name == "mirrored":
        devices = tf.config.list_logical_devices("GPU") or (
            tf.config.list_logical_devices("CPU")
        )
        return tf.distribute.MirroredStrategy([d.name for d in devices])
    return tf.distribute.get_strategy()


def print_prior(model):
    space = model.space
    probs = tf.nn.softmax(model.alpha).numpy()
    print("the prior's most probable op on each edge, p(z; alpha):")
    for c, cell_type in enumerate(space.cell_types):
        cells = []
        for e, (i, k) in enumerate(space.edges):
            o = int(np.argmax(probs[c, e]))
            cells.append(f"{i}->{k} {space.ops[o]} ({probs[c, e, o]:.2f})")
        print(f"  {cell_type}: " + ", ".join(cells))


def main(argv):
    del argv
    config = config_from_flags()
    if FLAGS.image_channels not in (1, 3):
        raise ValueError(
            "--image_channels must be 1 (grey) or 3 (RGB), got "
            f"{FLAGS.image_channels}."
        )
    if FLAGS.eval_tasks < 0:  # Else a KeyError after the whole training.
        raise ValueError(
            f"--eval_tasks={FLAGS.eval_tasks}: give how many held-out tasks "
            "to evaluate at the end, 0 (none) or more."
        )
    # First TF ops: the CPU split and a multi-worker strategy must both come
    # before TensorFlow initialises.
    split_cpu(FLAGS.cpu_devices, FLAGS.strategy)
    run_folder.check_directory(FLAGS.output_dir, flags=FLAGS)
    strategy = make_strategy(FLAGS.strategy)
    tasks = task_distribution(config)
    # Before any work: the folder is this run's, or refused.
    with meta_training.claim_output_dir(
        FLAGS.output_dir, config, tasks, strategy, flags=FLAGS
    ):
        meta_train(config, tasks, strategy)


def meta_train(config, tasks, strategy):
    """Meta-trains (or resumes), prints the prior and the held-out results."""
    print(f"meta-training on {tasks.meta_train.source_probabilities()}")
    start = time.perf_counter()
    trainer = meta_training.MetaTrainer(
        config, tasks, FLAGS.output_dir, strategy
    )
    resumed = int(trainer.epoch.numpy())
    net = trainer.supernet
    print(
        f"supernet: {net.space.name}, C={net.channels}, "
        f"{net.num_cells} cells, {net.num_parameters:,} weights; "
        f"{trainer.strategy.num_replicas_in_sync} replica(s); "
        + (f"resumed at epoch {resumed}" if resumed else "from scratch")
    )
    trainer.train(verbose=1 if trainer.is_chief else 0)
    print(f"meta-training took {time.perf_counter() - start:.1f} s")
    print_prior(trainer.model)
    held_out = FLAGS.held_out_datasets or FLAGS.held_out_classes
    if FLAGS.eval_tasks and held_out:
        test = tasks.meta_test
        for name in test.source_probabilities():
            which = (
                f"{name}'s held-out classes"
                if name not in FLAGS.held_out_datasets
                else name
            )
            results = trainer.evaluate(test.only(name), FLAGS.eval_tasks)
            print(
                f"held-out tasks of {which} at {config.image_size}x"
                f"{config.image_size}, {FLAGS.eval_tasks} of them: "
                "validation accuracy "
                f"{results['val_accuracy_before']:.3f} before and "
                f"{results['val_accuracy_after']:.3f} after "
                f"{config.inner_steps} inner steps",
                flush=True,
            )
    print(f"checkpoints and logs: {os.path.abspath(FLAGS.output_dir)}")


if __name__ == "__main__":
    cli.run(main)
