"""Classifies real images with an exported SavedModel, as a client would.

    bazel run //bin:classify -- --saved_model=runs/tiny_cifar10/serving \\
        --dataset=cifar10 --num_images=8

Loads the newest version under --saved_model (or the version folder given),
feeds it the first --num_images images of the dataset's split as stored
(uint8, their own size: the graph converts them), and prints each one's
true and predicted class and probability, and the accuracy. --dataset is a
TFDS name or a folder laid out as <split>/<class>/<image>, as for
bin/train. Bad flags (an unknown or unprepared dataset, a missing split, no
export, --num_images < 1) are refused in one line before the model loads.
"""

from bin import cli  # First: it settles TensorFlow's logging (see there).

# isort: split
import numpy as np
import tensorflow_datasets as tfds
from absl import flags

from base_tf import data, export

flags.DEFINE_string(
    "saved_model",
    None,
    "The exported model: an --export_base of bin/export (its newest "
    "version is used) or one version's folder.",
)
flags.DEFINE_string(
    "dataset",
    None,
    "Images to classify: a TFDS image-classification dataset or a folder "
    "laid out as <split>/<class>/<image>.",
)
flags.DEFINE_string("split", "test", "Split the images come from.")
flags.DEFINE_integer(
    "num_images", 8, "How many images to classify, the split's first."
)
flags.DEFINE_string(
    "data_dir",
    None,
    "Folder where TFDS datasets are prepared (default: TFDS's, "
    "$TFDS_DATA_DIR or ~/tensorflow_datasets).",
)
cli.mark_required("saved_model", "dataset")

FLAGS = flags.FLAGS


def read_examples(source, split, count):
    """The first `count` (image, label) pairs of `split`, images as stored:
    uint8, each its own size and channels."""
    if isinstance(source, data.ImageFolderSource):
        builder = tfds.folder_dataset.ImageFolder(source.root)
    else:
        builder = source.builder
    dataset = builder.as_dataset(
        split=split, shuffle_files=False, as_supervised=True
    )
    return list(tfds.as_numpy(dataset.take(count)))


def classify(exported, images):
    """The signature's probabilities and class names for `images`: one
    batch, or an image a call when their sizes differ."""
    if len({image.shape for image in images}) == 1:
        batches = [np.stack(images)]
    else:
        batches = [image[None] for image in images]
    outputs = [exported(images=batch) for batch in batches]
    return (
        np.concatenate([o["probabilities"].numpy() for o in outputs]),
        np.concatenate([o["class_names"].numpy() for o in outputs]),
    )


def main(argv):
    del argv
    if FLAGS.num_images < 1:
        raise ValueError(
            f"--num_images={FLAGS.num_images}: give how many images to "
            "classify, 1 or more."
        )
    try:
        source = data.load_source(FLAGS.dataset, data_dir=FLAGS.data_dir)
    except data.DataError as error:
        raise data.DataError(f"--dataset={FLAGS.dataset}: {error}") from None
    try:
        source.check_split(FLAGS.split)
    except data.DataError as error:
        raise data.DataError(f"--split={FLAGS.split}: {error}") from None
    try:
        exported = export.load_exported(FLAGS.saved_model)
    except FileNotFoundError:
        raise FileNotFoundError(
            f"--saved_model={FLAGS.saved_model}: no export there (no "
            "saved_model.pb, no numeric version folder); give bin/export's "
            "--export_base or one of its version folders."
        ) from None
    images, labels = zip(
        *read_examples(source, FLAGS.split, FLAGS.num_images), strict=True
    )
    names = source.class_names
    probabilities, predicted = classify(exported, images)
    shapes = sorted({image.shape for image in images})
    shape = shapes[0] if len(shapes) == 1 else "of several sizes"
    print(f"{exported.path}: {len(images)} {source.name} images "
          f"{shape} {images[0].dtype}")  # fmt: skip
    for i, label in enumerate(labels):
        name = predicted[i].decode()
        mark = "ok" if name == names[label] else "--"
        print(
            f"  {i}: true {names[label]:12s} predicted {name:12s} "
            f"p={probabilities[i].max():.2f} {mark}"
        )
    correct = np.mean(
        [p.decode() == names[y] for p, y in zip(predicted, labels, strict=True)]
    )
    print(f"accuracy on these {len(labels)} images: {correct:.2f}")


if __name__ == "__main__":
    cli.run(main)
