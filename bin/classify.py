"""Classifies real images with an exported SavedModel, as a client would.

    bazel run //bin:classify -- --saved_model=runs/tiny_cifar10/serving \\
        --dataset=cifar10 --num_images=8

Loads the newest version under --saved_model (or the version folder given),
feeds it the first --num_images images of the dataset's split as stored
(uint8, their own size: the graph converts them), and prints each one's
true and predicted class and probability, and the accuracy.
"""

from bin import cli  # First: it settles TensorFlow's logging (see there).

# isort: split
import numpy as np
import tensorflow_datasets as tfds
from absl import flags

from base_tf import export

flags.DEFINE_string(
    "saved_model",
    None,
    "The exported model: an --export_base of bin/export (its newest "
    "version is used) or one version's folder.",
)
flags.DEFINE_string(
    "dataset",
    None,
    "TFDS image-classification dataset whose images are classified.",
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


def main(argv):
    del argv
    exported = export.load_exported(FLAGS.saved_model)
    builder = tfds.builder(FLAGS.dataset, data_dir=FLAGS.data_dir)
    names = builder.info.features["label"].names
    examples = tfds.as_numpy(
        builder.as_dataset(
            split=f"{FLAGS.split}[:{FLAGS.num_images}]", as_supervised=True
        )
    )
    images, labels = map(np.stack, zip(*examples, strict=True))
    outputs = exported(images=images)
    probabilities = outputs["probabilities"].numpy()
    predicted = outputs["class_names"].numpy()
    print(f"{exported.path}: {images.shape[0]} {FLAGS.dataset} images "
          f"{images.shape[1:]} {images.dtype}")  # fmt: skip
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
