"""Exports a trained derived network as a SavedModel for TF Serving.

    bazel run //bin:export -- --model_dir=runs/train --export_base=exports/m

--model_dir is the --output_dir of a finished `bin:train` run (model.keras and
metadata.json). Writes version <n> of the model under --export_base (the
next one, or --version), in TF Serving's layout, with the class names and
the genotype as assets, and prints its path and its `serving_default`
signature (the text of `saved_model_cli show`): uint8 images [batch, height,
width, channels] of any size and 1-4 channels in, `probabilities`,
`classes` and `class_names` out. An existing version is refused. Serve it
with

    tensorflow_model_server --model_name=m --model_base_path=$PWD/exports/m
"""

from bin import cli  # First: it settles TensorFlow's logging (see there).

# isort: split
import os
import time

from absl import flags

from base_tf import export, training

flags.DEFINE_string(
    "model_dir",
    None,
    "Folder of the trained network: the --output_dir of a finished train run.",
)
flags.DEFINE_string(
    "export_base",
    None,
    "TF Serving's base folder for the model; each export is a new version "
    "folder <n>/ in it.",
)
flags.DEFINE_integer(
    "version",
    None,
    "Version to write (a positive int; refused if it exists). Default: 1 + "
    "the largest version in --export_base.",
)
cli.mark_required("model_dir", "export_base")

FLAGS = flags.FLAGS


def main(argv):
    del argv
    trained = training.load_trained(FLAGS.model_dir)
    print(
        f"network from {FLAGS.model_dir}: {len(trained.class_names)} classes, "
        f"images {trained.image_spec.height}x{trained.image_spec.width}x"
        f"{trained.image_spec.channels}"
    )
    start = time.perf_counter()
    path = export.export_saved_model(
        trained.model,
        FLAGS.export_base,
        image_spec=trained.image_spec,
        class_names=trained.class_names,
        genotype=trained.genotype,
        version=FLAGS.version,
    )
    print(
        f"exported version {os.path.basename(path)} in "
        f"{time.perf_counter() - start:.1f} s: {os.path.abspath(path)}"
    )
    print(export.describe(path))


if __name__ == "__main__":
    cli.run(main)
