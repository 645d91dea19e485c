"""What every base-tf binary does around its `main`: one place, no flags."""

import logging as python_logging
import os

from absl import app, flags, logging


def run(main):
    """Runs `main` with absl, relative paths taken from the caller's folder.

    `bazel run` starts a binary inside its runfiles tree; it names the folder
    the user called it from in BUILD_WORKING_DIRECTORY. Moving there first
    makes `--flagfile=configs/tiny.cfg`, `--output_dir=runs/x` and image
    folders mean what they mean in the user's shell. Imports are unaffected:
    the runfiles are already on `sys.path`.

    Logging: warnings and errors only, unless --verbosity is given (TF and
    TFDS otherwise log a line for every checkpoint and dataset read, which
    buries the progress bar).
    """
    os.chdir(os.environ.get("BUILD_WORKING_DIRECTORY", os.getcwd()))

    def quiet_main(argv):
        if not flags.FLAGS["verbosity"].present:
            logging.set_verbosity(logging.WARNING)
            for name in ("tensorflow", "absl"):
                python_logging.getLogger(name).setLevel(python_logging.WARNING)
        return main(argv)

    app.run(quiet_main)
