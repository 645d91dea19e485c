"""Exports a trained derived network as a SavedModel for TF Serving.

    bazel run //bin:export -- --model_dir=runs/train --export_base=exports/m

--model_dir is the --output_dir of a finished `bin:train` run (model.keras and
metadata.json). Writes version <n> of the model under --export_base (the
next one, or --version), in TF Serving's layout, with the class names as an
asset and the genotype in assets.extra/, and prints its path and its
`serving_default` signature (the text of `saved_model_cli show`): uint8
images [batch, height, width, channels] of any size and 1-4 channels in,
`probabilities`, `classes` and `class_names` out. An existing version is
refused; the unfinished export of a run that was killed is removed (and
named). Run it as TF Serving would, or serve it:

    saved_model_cli run --dir exports/m/1 --tag_set serve \
        --signature_def serving_default --inputs images=uint8_images.npy
    tensorflow_model_server --model_name=m --model_base_path=$PWD/exports/m
"""

from bin import cli  # First: it settles TensorFlow's logging (see there).

# isort: split
import os
import time

from absl import flags

from base_tf import export, exported_model, training, version_folders

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
    try:
        # Before the network is loaded: a base that cannot take a version
        # fails at once.
        removed = version_folders.prepare_export_base(
            FLAGS.export_base, name="export_base", flags=FLAGS
        )
        for name in removed:
            print(
                f"removed {os.path.join(FLAGS.export_base, name)}: the "
                "unfinished export of a run that was killed"
            )
        trained = training.load_trained(FLAGS.model_dir)
        print(
            f"network from {FLAGS.model_dir}: {len(trained.class_names)} "
            f"classes, images {trained.image_spec.height}x"
            f"{trained.image_spec.width}x{trained.image_spec.channels}"
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
    except version_folders.ExportError as e:
        message = str(e)  # Named --export_base already, or named here.
        if not message.startswith("--export_base"):
            message = f"--export_base: {message}"
        raise ValueError(message) from e
    print(
        f"exported version {os.path.basename(path)} in "
        f"{time.perf_counter() - start:.1f} s: {os.path.abspath(path)}"
    )
    print(exported_model.describe(path))


if __name__ == "__main__":
    cli.run(main)
