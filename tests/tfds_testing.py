"""Test helpers for the real datasets of ../shared/data, found through TFDS.

One guard for every test that needs a prepared dataset:
`require_datasets("mnist", ...)` raises `unittest.SkipTest`, naming the
datasets TFDS has not prepared in `data_dir()` and how to prepare them. Call
it first in `setUpClass` when the class builds something from the data
(the whole class is then skipped, and nothing in `setUpClass` runs), else in
`setUp` or the test itself. So the suite passes on a bare machine, each such
test reported as skipped with its reason, and runs in full wherever
`tools/setup.sh` or `python ../shared/data/prepare_tfds.py --out
~/tensorflow_datasets` ran (as `.ci/run` does).
"""

import os
import unittest

import tensorflow_datasets as tfds

PREPARE_HINT = (
    "prepare it offline with `python ../shared/data/prepare_tfds.py "
    "--out ~/tensorflow_datasets` or `tools/setup.sh` (or set "
    "TFDS_DATA_DIR to where it is prepared)"
)


def data_dir():
    """The folder TFDS reads prepared datasets from: $TFDS_DATA_DIR, else
    ~/tensorflow_datasets (as `tfds.load` does)."""
    return os.environ.get("TFDS_DATA_DIR") or os.path.expanduser(
        "~/tensorflow_datasets"
    )


def is_prepared(name):
    """Whether TFDS can load `name` from `data_dir()` without a download.

    TFDS's own answer: its builder finds the prepared version's
    dataset_info.json in the folder (it never downloads to find out).
    """
    return tfds.builder(name, data_dir=data_dir()).is_prepared()


def require_datasets(*names):
    """Skips the calling test (or class) unless every TFDS dataset in
    `names` is prepared in `data_dir()`.

    Raises:
        unittest.SkipTest: some are not; the message names them, the folder
            and how to prepare them.
    """
    missing = [name for name in names if not is_prepared(name)]
    if missing:
        raise unittest.SkipTest(
            f"needs TFDS dataset(s) {', '.join(missing)}, not prepared in "
            f"{data_dir()}: {PREPARE_HINT}"
        )
