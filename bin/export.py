"""Exports a trained derived network as a SavedModel for TF Serving.

    bazel run //bin:export -- --model_dir=runs/train --export_base=exports/m

Not implemented yet: it needs the derived-network trainer. The flags below
are the ones it will take.
"""

from absl import app, flags

from bin import cli

flags.DEFINE_string("model_dir", None, "Folder of the trained network.")
flags.DEFINE_string(
    "export_base", None, "TF Serving base folder; versions go in <n>/."
)


def main(argv):
    del argv
    raise app.UsageError(
        "export is not implemented yet: it needs a trained derived "
        "network, which lands with adaptation and training."
    )


if __name__ == "__main__":
    cli.run(main)
