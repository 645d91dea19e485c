"""Adapts the meta-trained prior to a new dataset and derives its genotype.

    bazel run //bin:adapt -- --checkpoint=runs/tiny --dataset=cifar10 \
        --output_dir=runs/tiny/adapt_cifar10

Not implemented yet: it needs the BASE model (the next milestone). The flags
below are the ones it will take.
"""

from absl import app, flags

from bin import cli

flags.DEFINE_string("checkpoint", None, "Meta-training output folder.")
flags.DEFINE_string(
    "dataset", None, "TFDS name or folder laid out as <split>/<class>/<img>."
)
flags.DEFINE_integer("adapt_steps", 10, "Inner-loop steps T'; 0: the prior.")
flags.DEFINE_string("output_dir", None, "Where the adapted posterior goes.")


def main(argv):
    del argv
    raise app.UsageError(
        "adapt is not implemented yet: it needs the BASE model and a "
        "meta-training checkpoint, which land with meta-training."
    )


if __name__ == "__main__":
    cli.run(main)
