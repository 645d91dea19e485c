"""Test helpers for the real datasets of ../shared/data, found through TFDS.

Tests that need a real dataset call `require_tfds(self, name)`: it skips the
test, with a reason that says how to prepare the dataset, when TFDS has not
prepared it; so the suite passes on a bare machine and runs in full wherever
`python ../shared/data/prepare_tfds.py --out ~/tensorflow_datasets` was run
(as `.ci/run` does).
"""

import os

import tensorflow_datasets as tfds

PREPARE_HINT = (
    "prepare it offline with `python ../shared/data/prepare_tfds.py "
    "--out ~/tensorflow_datasets` (or set TFDS_DATA_DIR to where it is)"
)


def data_dir():
    """The folder TFDS reads prepared datasets from."""
    return os.environ.get("TFDS_DATA_DIR") or os.path.expanduser(
        "~/tensorflow_datasets"
    )


def is_prepared(name):
    """Whether TFDS can load `name` from `data_dir()` without a download."""
    return tfds.builder(name, data_dir=data_dir()).is_prepared()


def require_tfds(test_case, *names):
    """Skips `test_case` unless every TFDS dataset in `names` is prepared."""
    missing = [n for n in names if not is_prepared(n)]
    if missing:
        test_case.skipTest(
            f"TFDS dataset(s) {', '.join(missing)} not prepared in "
            f"{data_dir()}: {PREPARE_HINT}"
        )
