"""Trains a genotype's network on a dataset and tests it.

    bazel run //bin:train -- --flagfile=configs/train_tiny.cfg
    bazel run //bin:train -- --flagfile=configs/train_cifar10.cfg \\
        --genotype=runs/tiny_cifar10/genotype.json

--genotype is a published name (CIFAR_TUNED, IMAGENET_TUNED, DARTS_V2), a
genotype JSON file (e.g. bin:adapt's genotype.json) or a NAS-Bench-201
architecture string. Writes to --output_dir the trained inference model
(model.keras), the genotype, metadata, a CSV log, TensorBoard logs and the
learning curves; a killed run resumes from its last epoch when rerun with
the same flags, and a folder of another run is refused, naming the
settings that differ. One run at a time writes a folder; another one fails
at once. Prints the parameter count (DARTS's counting) and the test
accuracy.
"""

from bin import cli  # First: it settles TensorFlow's logging (see there).

# isort: split
import os
import time

from absl import flags

from base_tf import (
    data,
    run_folder,
    search_space,
    training,
    training_folder,
)

_DEFAULTS = training.TrainingConfig()

flags.DEFINE_string(
    "genotype",
    None,
    "The architecture to train: a published name (CIFAR_TUNED, "
    "IMAGENET_TUNED, DARTS_V2), a genotype JSON file (bin/adapt's "
    "genotype.json) or a NAS-Bench-201 architecture string.",
)
flags.DEFINE_string(
    "dataset",
    "cifar10",
    "Dataset to train and test on: a TFDS name or a folder laid out as "
    "<split>/<class>/<image>.",
)
flags.DEFINE_string(
    "data_dir",
    None,
    "Folder where TFDS datasets are prepared (default: TFDS's, "
    "$TFDS_DATA_DIR or ~/tensorflow_datasets).",
)
flags.DEFINE_integer(
    "image_size",
    32,
    "Images are resized to this height and width, with 3 channels.",
)
flags.DEFINE_integer(
    "channels",
    None,
    "C, the channels of the first cells (default: 40 for DARTS, 16 for "
    "NAS-Bench-201).",
)
flags.DEFINE_integer(
    "num_cells",
    None,
    "Cells of the network (NAS-Bench-201: of each stage; default: 20 for "
    "DARTS, 5 for NAS-Bench-201).",
)
flags.DEFINE_string(
    "output_dir",
    "runs/train",
    "Folder for the model, logs and learning curves; rerun with the same "
    "flags to resume, other flags are refused.",
)
# TrainingConfig.
flags.DEFINE_integer("epochs", _DEFAULTS.epochs, "Training epochs.")
flags.DEFINE_integer(
    "batch_size", _DEFAULTS.batch_size, "Examples in each training step."
)
flags.DEFINE_float(
    "learning_rate",
    _DEFAULTS.learning_rate,
    "SGD's initial learning rate, decayed to 0 along a cosine.",
)
flags.DEFINE_float("momentum", _DEFAULTS.momentum, "SGD's momentum.")
flags.DEFINE_float(
    "weight_decay",
    _DEFAULTS.weight_decay,
    "L2 weight decay, as PyTorch's SGD applies it (added to the gradient "
    "before momentum).",
)
flags.DEFINE_float(
    "grad_clip",
    _DEFAULTS.grad_clip,
    "The gradients' global norm is clipped to this; 0: no clipping.",
)
flags.DEFINE_float(
    "auxiliary_weight",
    _DEFAULTS.auxiliary_weight,
    "Weight of the auxiliary head's loss; 0: no head (DARTS networks only).",
)
flags.DEFINE_float(
    "drop_path",
    _DEFAULTS.drop_path,
    "Drop-path rate of the last epoch, ramped linearly from 0; 0: none.",
)
flags.DEFINE_integer(
    "cutout",
    _DEFAULTS.cutout,
    "Side of the cutout square at 32x32 (scaled to --image_size); 0: none.",
)
flags.DEFINE_boolean(
    "augment",
    _DEFAULTS.augment,
    "Augment the training images: pad-and-crop and horizontal flips.",
)
flags.DEFINE_integer(
    "seed",
    _DEFAULTS.seed,
    "Random seed of the weights, the example order, augmentation and "
    "drop-path.",
)
flags.DEFINE_integer(
    "max_train_examples",
    None,
    "Train on this many examples of the train split, a seeded random subset "
    "(default: all).",
)
flags.DEFINE_integer(
    "max_test_examples",
    None,
    "Test on this many examples of the test split (default: all).",
)
flags.DEFINE_boolean(
    "jit_compile",
    _DEFAULTS.jit_compile,
    "Compile the training and test steps with XLA (slower on CPUs here).",
)
flags.DEFINE_integer(
    "verbose",
    2,
    "What to print while training: 0 nothing, 1 a progress bar, 2 a line "
    "an epoch.",
)
cli.mark_required("genotype")

FLAGS = flags.FLAGS


def config_from_flags():
    """The `TrainingConfig` of the flags, each field the flag of its name;
    a bad value is refused naming the flag, not the field."""
    fields = training.TrainingConfig.__dataclass_fields__
    try:
        return training.TrainingConfig(
            **{name: FLAGS[name].value for name in fields}
        )
    except ValueError as error:
        # "TrainingConfig.epochs must be ..." -> "--epochs must be ...".
        raise ValueError(str(error).replace("TrainingConfig.", "--")) from None


def main(argv):
    del argv
    config = config_from_flags()
    genotype = search_space.resolve_genotype(FLAGS.genotype)
    spec = data.ImageSpec(FLAGS.image_size, FLAGS.image_size, 3)
    run_folder.check_directory(FLAGS.output_dir, flags=FLAGS)
    # Checks the dataset (no image is read yet).
    source = data.load_source(FLAGS.dataset, data_dir=FLAGS.data_dir)
    space = search_space.space_of(genotype).name
    print(f"genotype ({space}):\n{genotype}")
    start = time.perf_counter()
    # Before any work: the folder is this run's (its settings recorded, or
    # the same as recorded), or refused naming each differing flag; one
    # run at a time.
    with training_folder.claim_output_dir(
        FLAGS.output_dir,
        genotype,
        source,
        config,
        image_spec=spec,
        channels=FLAGS.channels,
        num_cells=FLAGS.num_cells,
        flags=FLAGS,
    ):
        result = training.train(
            genotype,
            source,
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
