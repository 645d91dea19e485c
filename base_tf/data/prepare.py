"""Prepares the TFDS datasets base_tf itself defines, from their manual files.

    python -m base_tf.data.prepare tiny_imagenet [--data_dir=DIR]

TFDS's own `tfds build` would do it too, but it first asks Google Cloud
Storage for a prepared copy, which an offline machine cannot answer; this
never touches the network. Idempotent: a prepared dataset is left as is.
"""

import argparse
import os
import sys
import time

import tensorflow_datasets as tfds

from base_tf.data import tiny_imagenet

# Dataset name: its `prepare(data_dir)`.
PREPARE = {"tiny_imagenet": tiny_imagenet.prepare}


def main(argv):
    parser = argparse.ArgumentParser(
        prog="python -m base_tf.data.prepare",
        description=__doc__.split("\n")[0],
    )
    parser.add_argument("names", nargs="+", choices=sorted(PREPARE))
    parser.add_argument(
        "--data_dir",
        default=None,
        help="TFDS data folder, whose downloads/manual/ holds the files "
        "(default: $TFDS_DATA_DIR, else ~/tensorflow_datasets).",
    )
    args = parser.parse_args(argv)
    data_dir = os.path.expanduser(args.data_dir) if args.data_dir else None
    tfds.disable_progress_bar()
    for name in args.names:
        start = time.monotonic()
        builder = PREPARE[name](data_dir)
        splits = ", ".join(
            f"{split} {info.num_examples}"
            for split, info in builder.info.splits.items()
        )
        print(
            f"{name}: prepared in {builder.data_dir} ({splits}; "
            f"{time.monotonic() - start:.0f} s)"
        )


if __name__ == "__main__":
    main(sys.argv[1:])
