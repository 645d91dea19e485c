"""Trains a genotype's network on a dataset and tests it.

    bazel run //bin:train -- --flagfile=configs/train_tiny.cfg
    bazel run //bin:train -- --flagfile=configs/train_cifar10.cfg \
        --genotype=runs/tiny_cifar10/genotype.json

--genotype is a published name (CIFAR_TUNED, IMAGENET_TUNED, DARTS_V2), a
genotype JSON file (e.g. bin:adapt's genotype.json) or a NAS-Bench-201
architecture string. Writes to --output_dir the trained inference model
(model.keras), the genotype, metadata, a CSV log, TensorBoard logs and the
learning curves; a killed run resumes from its last epoch when rerun with
the same flags, and a folder of another run is refused. Prints the
parameter count (DARTS's counting) and the test accuracy.
"""

import os
import time

from absl import flags

from base_tf import data, evaluation, training
from bin import cli

_DEFAULTS = training.TrainingConfig()

flags.DEFINE_string(
    "genotype",
    None,
    "Published name (CIFAR_TUNED, IMAGENET_TUNED, DARTS_V2), genotype JSON "
    "file, or NAS-Bench-201 string.",
)
flags.DEFINE_string(
    "dataset", "cifar10", "TFDS name or folder laid out as <split>/<class>/."
)
flags.DEFINE_string(
    "data_dir", None, "Where TFDS datasets are prepared (default: TFDS's)."
)
flags.DEFINE_integer("image_size", 32, "Images are resized to this x this x 3.")
flags.DEFINE_integer(
    "channels", None, "C of the first cells (default: 40 DARTS, 16 NB201)."
)
flags.DEFINE_integer(
    "num_cells",
    None,
    "Cells (NAS-Bench-201: a stage; default: 20 DARTS, 5 NB201).",
)
flags.DEFINE_string("output_dir", "runs/train", "The run's folder.")
# TrainingConfig.
flags.DEFINE_integer("epochs", _DEFAULTS.epochs, "Epochs.")
flags.DEFINE_integer("batch_size", _DEFAULTS.batch_size, "Examples a step.")
flags.DEFINE_float(
    "learning_rate", _DEFAULTS.learning_rate, "Initial lr, cosine to 0."
)
flags.DEFINE_float("momentum", _DEFAULTS.momentum, "SGD momentum.")
flags.DEFINE_float(
    "weight_decay", _DEFAULTS.weight_decay, "L2 weight decay (PyTorch's)."
)
flags.DEFINE_float(
    "grad_clip", _DEFAULTS.grad_clip, "Global gradient norm clip; 0: none."
)
flags.DEFINE_float(
    "auxiliary_weight",
    _DEFAULTS.auxiliary_weight,
    "Auxiliary head's loss weight; 0: no head (DARTS networks only).",
)
flags.DEFINE_float(
    "drop_path", _DEFAULTS.drop_path, "Final drop-path rate, ramped from 0."
)
flags.DEFINE_integer(
    "cutout", _DEFAULTS.cutout, "Cutout side at 32x32 (scaled); 0: none."
)
flags.DEFINE_boolean(
    "augment", _DEFAULTS.augment, "Pad-and-crop and horizontal flips."
)
flags.DEFINE_integer("seed", _DEFAULTS.seed, "Seeds weights, data, noise.")
flags.DEFINE_integer(
    "max_train_examples", None, "Train on this many examples (default: all)."
)
flags.DEFINE_integer(
    "max_test_examples", None, "Test on this many examples (default: all)."
)
flags.DEFINE_boolean(
    "jit_compile", _DEFAULTS.jit_compile, "Compile the steps with XLA."
)
flags.DEFINE_integer(
    "verbose", 2, "0: silent, 1: progress bar, 2: a line an epoch."
)
flags.mark_flags_as_required(["genotype"])

FLAGS = flags.FLAGS


def config_from_flags():
    fields = training.TrainingConfig.__dataclass_fields__
    return training.TrainingConfig(
        **{name: FLAGS[name].value for name in fields}
    )


def main(argv):
    del argv
    config = config_from_flags()
    genotype = training.resolve_genotype(FLAGS.genotype)
    spec = data.ImageSpec(FLAGS.image_size, FLAGS.image_size, 3)
    print(f"genotype ({evaluation.space_of(genotype)}):\n{genotype}")
    start = time.perf_counter()
    result = training.train(
        genotype,
        FLAGS.dataset,
        config,
        FLAGS.output_dir,
        image_spec=spec,
        channels=FLAGS.channels,
        num_cells=FLAGS.num_cells,
        data_dir=FLAGS.data_dir,
        verbose=FLAGS.verbose,
    )
    meta = result.metadata
    if result.initial_epoch >= result.epochs:
        print(f"{FLAGS.output_dir} already holds this run, finished.")
    elif result.initial_epoch:
        print(f"resumed at epoch {result.initial_epoch}")
    print(
        f"network: C={meta['channels']}, {meta['num_cells']} cells, "
        f"{meta['num_classes']} classes, {spec.height}x{spec.width}; "
        f"trained on {meta['num_train']} {meta['dataset']} images for "
        f"{result.epochs} epochs, tested on {meta['num_test']}"
    )
    print(
        f"parameters (DARTS counting): {result.parameter_count:,} = "
        f"{result.parameter_count / 1e6:.3f}M"
    )
    print(
        f"test accuracy: {result.test_accuracy:.4f} (train "
        f"{result.train_accuracy:.4f}); took "
        f"{time.perf_counter() - start:.1f} s"
    )
    print(f"model and logs: {os.path.abspath(FLAGS.output_dir)}")


if __name__ == "__main__":
    cli.run(main)
