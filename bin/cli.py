"""What every base-tf binary does around its `main`: one place, no flags."""

import logging as python_logging
import os
import sys

from absl import app, flags, logging

_INPUT_ERRORS = (
    ValueError,
    FileExistsError,
    FileNotFoundError,
    FloatingPointError,
)


def run(main):
    """Runs `main` with absl, relative paths taken from the caller's folder.

    `bazel run` starts a binary inside its runfiles tree; it names the folder
    the user called it from in BUILD_WORKING_DIRECTORY. Moving there first
    makes `--flagfile=configs/tiny.cfg`, `--output_dir=runs/x` and image
    folders mean what they mean in the user's shell. Imports are unaffected:
    the runfiles are already on `sys.path`.

    Errors of input (a `ValueError` such as `DataError`, a file that is
    missing or already there, a diverging run) end the program with their
    message on one line and exit status 1; --verbosity=1 adds the
    traceback.

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
        try:
            return main(argv)
        except _INPUT_ERRORS as e:
            if logging.get_verbosity() >= logging.INFO:
                raise
            name = os.path.basename(sys.argv[0]).removesuffix(".py")
            print(f"{name}: error: {e}", file=sys.stderr)
            sys.exit(1)

    app.run(quiet_main)
