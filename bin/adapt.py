"""Adapts the meta-trained prior to a new dataset and derives its genotype.

    bazel run //bin:adapt -- --checkpoint=runs/tiny --dataset=cifar10 \\
        --output_dir=runs/tiny_cifar10

Runs the inner loop T' = --adapt_steps steps from the prior W of a
meta-training run (--adapt_steps=0: the multi-task prior's architecture)
and writes to --output_dir the adapted posterior, the derived genotype
(JSON and text), every choice's op probabilities and entropy, a diagram of
each cell and a heatmap of q(z|D). Prints the genotype (for NAS-Bench-201
also its architecture string, on a line of its own), the table, the
validation accuracy of the prior and of the posterior, and the time taken.
While it works it prints each phase as it starts and the seconds it took:
loading the prior and the data, tracing the inner loop, running its steps
(one compiled call), evaluating, writing the results.

--output_dir records the adaptation's settings (see base_tf/run_folder.py)
before any work: rerun with the same flags, the folder is reused; with
other ones, it is refused naming each differing flag. One run at a time
writes a folder; another one fails at once.
"""

from bin import cli  # First: it settles TensorFlow's logging (see there).

# isort: split
import dataclasses
import os

from absl import flags

from base_tf import (
    adaptation,
    data,
    derivation,
    inference,
    meta_training,
    run_folder,
)
from base_tf.inference import statistics

_DEFAULTS = adaptation.AdaptationConfig()

flags.DEFINE_string(
    "checkpoint",
    None,
    "Meta-training run folder (the --output_dir of meta_train); its last "
    "checkpoint is the prior W adapted from. Or the prior as one .keras "
    "file: the prior.keras such a run folder holds.",
)
flags.DEFINE_string(
    "dataset",
    None,
    "Dataset to adapt to: a TFDS name or a folder laid out as "
    "<split>/<class>/<image>.",
)
flags.DEFINE_string(
    "data_dir",
    None,
    "Folder where TFDS datasets are prepared (default: TFDS's, "
    "$TFDS_DATA_DIR or ~/tensorflow_datasets).",
)
flags.DEFINE_string(
    "output_dir",
    None,
    "Folder for the results: a new one, or one this same adaptation wrote "
    "(reused; one of another adaptation is refused, naming the flags that "
    "differ).",
)
flags.DEFINE_integer(
    "adapt_steps",
    _DEFAULTS.steps,
    "T', inner-loop steps from the prior W on the dataset; 0: no step, the "
    "multi-task prior's architecture.",
)
flags.DEFINE_integer(
    "batch_size", _DEFAULTS.batch_size, "Examples in each step's batch."
)
flags.DEFINE_float(
    "learning_rate",
    None,
    "eta, the step size for the weights' posterior (mu, rho) (default: the "
    "meta-training run's).",
)
flags.DEFINE_float(
    "arch_learning_rate",
    None,
    "eta for phi, the step size for the architecture logits (default: the "
    "meta-training run's).",
)
flags.DEFINE_float(
    "temperature",
    None,
    "tau, the Gumbel-softmax temperature of q(z|D) (default: 1 for hard "
    "samples, where tau only shapes the gradient; the meta-training run's "
    "last for relaxed ones).",
)
flags.DEFINE_integer(
    "num_classes",
    None,
    "K', the classes to adapt to (default: all of the dataset's, or as "
    "many as --classes names). A K' other than the prior's K gives every "
    "output of the classifier the prior's mean output as its prior "
    "(README, Adapting to your dataset).",
)
flags.DEFINE_list(
    "classes",
    None,
    "The classes to adapt to, by name or id (default: all of them when "
    "--num_classes is unset or the dataset's count, else --num_classes "
    "drawn with --seed).",
)
flags.DEFINE_integer(
    "image_size",
    None,
    "Images are resized to this height and width (default: the "
    "meta-training size; the supernet pools globally, so W serves any).",
)
flags.DEFINE_enum(
    "arch_sample",
    None,
    list(inference.SAMPLES),
    "The z each inner step trains on: relaxed (the Gumbel-softmax "
    "mixture), hard (one sampled op an edge, straight-through) or gdas "
    "(hard, the gradient through the sampled op only) (default: the "
    "meta-training run's).",
)
flags.DEFINE_string(
    "split",
    _DEFAULTS.split,
    "Split the training and validation examples come from.",
)
flags.DEFINE_integer(
    "train_per_class",
    _DEFAULTS.train_per_class,
    "Training examples of each class; the steps' batches are drawn from them.",
)
flags.DEFINE_integer(
    "val_per_class",
    _DEFAULTS.val_per_class,
    "Validation examples of each class, apart from the training ones: the "
    "accuracy of the prior and of the posterior is measured on them.",
)
flags.DEFINE_enum(
    "rule",
    None,
    sorted({r for rules in derivation.RULES.values() for r in rules}),
    "How the genotype is read off q(z|D) (default: slots for DARTS, argmax "
    "for NAS-Bench-201; see base_tf/derivation.py).",
)
flags.DEFINE_integer(
    "seed",
    _DEFAULTS.seed,
    "Random seed of the classes drawn, the examples, the batches and the "
    "sampling noise.",
)
cli.mark_required("checkpoint", "dataset", "output_dir")

FLAGS = flags.FLAGS


# Flags of counts: (the least value, what to give).
_COUNTS = {
    "adapt_steps": (
        0,
        "the inner-loop steps T' from the prior W, 0 (the prior's own "
        "architecture) or more",
    ),
    "batch_size": (1, "the examples in each step's batch, 1 or more"),
    "train_per_class": (1, "the training examples of each class, 1 or more"),
    "val_per_class": (1, "the validation examples of each class, 1 or more"),
    "num_classes": (2, "the classes to adapt to, 2 or more"),
    "image_size": (1, "the images' height and width in pixels, 1 or more"),
    "seed": (0, "a seed of 0 or more"),
}
# Flags of rates, > 0 when given: what they are.
_RATES = {
    "learning_rate": "a step size",
    "arch_learning_rate": "a step size",
    "temperature": "a temperature",
}


def check_flags():
    """Refuses a bad count or rate in one line naming its flag, before any
    work (AdaptationConfig's own errors name its fields, not the flags)."""
    for name, (least, what) in _COUNTS.items():
        value = FLAGS[name].value
        if value is not None and value < least:
            raise ValueError(f"--{name}={value}: give {what}.")
    for name, what in _RATES.items():
        value = FLAGS[name].value
        if value is not None and not value > 0:
            raise ValueError(
                f"--{name}={value}: give {what} above 0, or leave it out for "
                "the meta-training run's."
            )


def config_from_flags():
    check_flags()
    classes = FLAGS.classes
    if classes is not None:
        classes = [int(c) if c.isdigit() else c for c in classes]
    return adaptation.AdaptationConfig(
        steps=FLAGS.adapt_steps,
        batch_size=FLAGS.batch_size,
        learning_rate=FLAGS.learning_rate,
        arch_learning_rate=FLAGS.arch_learning_rate,
        temperature=FLAGS.temperature,
        classes=classes,
        split=FLAGS.split,
        train_per_class=FLAGS.train_per_class,
        val_per_class=FLAGS.val_per_class,
        rule=FLAGS.rule,
        seed=FLAGS.seed,
        num_classes=FLAGS.num_classes,
        image_size=FLAGS.image_size,
        arch_sample=FLAGS.arch_sample,
    )


def main(argv):
    del argv
    config = config_from_flags()
    run_folder.check_directory(FLAGS.output_dir, flags=FLAGS)
    # Checks the dataset (no image is read yet) and the meta-training run.
    source = data.load_source(FLAGS.dataset, data_dir=FLAGS.data_dir)
    if config.num_classes is None and config.classes is None:
        # The default: all of the dataset's classes.
        config = dataclasses.replace(config, num_classes=source.num_classes)
    if (config.num_classes or 0) > source.num_classes:
        raise ValueError(
            f"--num_classes={config.num_classes}: {source.name} has "
            f"{source.num_classes} classes; give {source.num_classes} or fewer."
        )
    # Before any work: the folder is this adaptation's, or refused.
    with adaptation.claim_output_dir(
        FLAGS.output_dir, FLAGS.checkpoint, source, config, flags=FLAGS
    ):
        adapt(config, source)


def adapt(config, source):
    """Adapts (or reuses the folder's adaptation) and prints the results."""
    posterior = adaptation.find_previous(FLAGS.output_dir)
    if posterior is None:
        with cli.phase(
            f"loading the meta-trained prior W of {FLAGS.checkpoint}"
        ):
            prior = meta_training.load_prior(FLAGS.checkpoint)
        meta_config, model = prior
        with cli.phase(f"loading {source.name}"):
            task = adaptation.make_task(
                source,
                meta_config,
                config,
                image_channels=model.supernet.image_channels,
            )
        print(
            f"adapting the {meta_config.search_space} prior of "
            f"{FLAGS.checkpoint} to {task.source_name} "
            f"({', '.join(task.class_names)}): {task.num_train} training, "
            f"{task.num_val} validation images at {task.image_spec.height}x"
            f"{task.image_spec.width}, {config.steps} steps"
            + (
                f"; the classifier's prior for these {task.num_classes} "
                "classes: the mean of the prior's "
                f"{meta_config.num_classes} outputs"
                if task.num_classes != meta_config.num_classes
                else ""
            )
        )
        posterior = adaptation.adapt(prior, task, config, verbose=1)
        with cli.phase(f"writing the results to {FLAGS.output_dir}"):
            genotype, _ = adaptation.write_outputs(
                posterior, FLAGS.output_dir, config.rule
            )
    else:
        print(
            f"{FLAGS.output_dir} already holds this adaptation (same "
            "checkpoint, dataset and flags): reusing it."
        )
        genotype = posterior.genotype(posterior.info["rule"])
    info = posterior.info
    print(f"\nderived genotype ({info['rule']} rule):\n{genotype}")
    notation = posterior.space.notation
    if notation:  # E.g. NAS-Bench-201's architecture string.
        print(f"{notation}:")
        print(genotype)
    print(
        "\nq(z|D), every choice (op probabilities; entropy in nats, "
        "relative to uniform):"
    )
    print(derivation.choices_table(posterior.space, posterior.op_probabilities))
    if "posterior_statistics" in info:  # adaptations of before they were
        print(
            "prior:     "
            + statistics.format_summary(info["prior_statistics"])
            + "\nposterior: "
            + statistics.format_summary(
                info["posterior_statistics"], info["update_norms"]
            )
            + " (KL and update: from the prior)"
        )
    print(
        f"validation accuracy of the mean network: prior "
        f"{info['val_accuracy_prior']:.3f}, posterior "
        f"{info['val_accuracy_posterior']:.3f}"
    )
    print(
        f"adaptation took {info['wall_seconds']:.1f} s wall, "
        f"{info['cpu_seconds']:.1f} s CPU"
    )
    print(f"results in {os.path.abspath(FLAGS.output_dir)}")


if __name__ == "__main__":
    cli.run(main)
