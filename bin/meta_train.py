"""Meta-trains BASE's shared prior W on tasks drawn from several datasets.

    bazel run //bin:meta_train -- --flagfile=configs/tiny.cfg

Writes to --output_dir: checkpoints of W (resumed on a rerun with the same
flags; refused with other flags), the config, TensorBoard logs. At the end it
adapts W to tasks of the held-out datasets and prints the validation
accuracy of the prior's mean network before and of the posterior after the
inner loop, and the prior's most probable op on every edge.
"""

import os
import time

import numpy as np
import tensorflow as tf
from absl import flags

from base_tf import data, meta_training, search_space
from bin import cli

_DEFAULTS = meta_training.MetaTrainingConfig()

# The supernet.
flags.DEFINE_enum(
    "search_space",
    _DEFAULTS.search_space,
    sorted(search_space.SPACES),
    "Cell search space.",
)
flags.DEFINE_integer("channels", _DEFAULTS.channels, "C of the first cells.")
flags.DEFINE_integer(
    "num_cells",
    _DEFAULTS.num_cells,
    "Supernet cells (NAS-Bench-201: cells per stage).",
)
# The tasks.
flags.DEFINE_list(
    "datasets",
    ["mnist", "fashion_mnist", "cifar10"],
    "Task sources: TFDS names or folders laid out as <split>/<class>/<image>.",
)
flags.DEFINE_list(
    "held_out_datasets",
    ["cifar10"],
    "Sources kept for meta-testing (adaptation to unseen datasets).",
)
flags.DEFINE_integer("num_classes", _DEFAULTS.num_classes, "K, classes a task.")
flags.DEFINE_integer(
    "image_size", _DEFAULTS.image_size, "Images are resized to this x this x 3."
)
flags.DEFINE_integer("train_per_class", 100, "Training examples per class.")
flags.DEFINE_integer("val_per_class", 20, "Validation examples per class.")
flags.DEFINE_string(
    "data_dir", None, "Where TFDS datasets are prepared (default: TFDS's)."
)
# The algorithm.
flags.DEFINE_integer("epochs", _DEFAULTS.epochs, "E, meta-training epochs.")
flags.DEFINE_integer(
    "tasks_per_epoch", _DEFAULTS.tasks_per_epoch, "C, tasks an epoch."
)
flags.DEFINE_integer("inner_steps", _DEFAULTS.inner_steps, "T, inner steps.")
flags.DEFINE_integer("batch_size", _DEFAULTS.batch_size, "Inner-step batch.")
flags.DEFINE_float(
    "meta_learning_rate", _DEFAULTS.meta_learning_rate, "lambda."
)
flags.DEFINE_float(
    "learning_rate", _DEFAULTS.learning_rate, "Inner eta for (mu, rho)."
)
flags.DEFINE_float(
    "arch_learning_rate", _DEFAULTS.arch_learning_rate, "Inner eta for phi."
)
flags.DEFINE_float(
    "kl_architecture", _DEFAULTS.kl_architecture, "beta_z, KL(q(z)||p(z))."
)
flags.DEFINE_float(
    "kl_weights", _DEFAULTS.kl_weights, "beta_theta, KL(q(theta)||p(theta))."
)
flags.DEFINE_float(
    "initial_temperature", _DEFAULTS.initial_temperature, "First tau."
)
flags.DEFINE_float(
    "final_temperature", _DEFAULTS.final_temperature, "Last tau."
)
flags.DEFINE_float("prior_sigma", _DEFAULTS.prior_sigma, "Initial sigma.")
flags.DEFINE_integer("seed", _DEFAULTS.seed, "Seeds W_0, tasks and noise.")
# The run.
flags.DEFINE_integer(
    "checkpoint_every", _DEFAULTS.checkpoint_every, "Epochs between saves."
)
flags.DEFINE_string("output_dir", "runs/meta_train", "Checkpoints and logs.")
flags.DEFINE_enum(
    "strategy",
    "default",
    ["default", "mirrored", "multi_worker"],
    "default: one device; mirrored: tasks spread over all local GPUs (or "
    "CPUs if none), one task a replica; multi_worker: over the GPUs (or "
    "CPUs) of several machines, the cluster read from TF_CONFIG.",
)
flags.DEFINE_integer(
    "eval_tasks", 2, "Held-out tasks adapted at the end (0: none)."
)

FLAGS = flags.FLAGS


def config_from_flags():
    fields = meta_training.MetaTrainingConfig.__dataclass_fields__
    return meta_training.MetaTrainingConfig(
        **{name: FLAGS[name].value for name in fields}
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
    # First: a multi-worker strategy must exist before any other TF op.
    strategy = make_strategy(FLAGS.strategy)
    size = config.image_size
    tasks = data.TaskDistribution(
        FLAGS.datasets,
        num_classes=config.num_classes,
        config=data.TaskConfig(
            data.ImageSpec(size, size, 3),
            train_per_class=FLAGS.train_per_class,
            val_per_class=FLAGS.val_per_class,
        ),
        held_out_sources=FLAGS.held_out_datasets,
        seed=config.seed,
        data_dir=FLAGS.data_dir,
    )
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
    if FLAGS.eval_tasks and FLAGS.held_out_datasets:
        results = trainer.evaluate(tasks.meta_test, FLAGS.eval_tasks)
        print(
            f"held-out tasks ({', '.join(FLAGS.held_out_datasets)}), "
            f"{FLAGS.eval_tasks} of them: validation accuracy "
            f"{results['val_accuracy_before']:.3f} before and "
            f"{results['val_accuracy_after']:.3f} after "
            f"{config.inner_steps} inner steps"
        )
    print(f"checkpoints and logs: {os.path.abspath(FLAGS.output_dir)}")


if __name__ == "__main__":
    cli.run(main)
