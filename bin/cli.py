"""What every base-tf binary does around its `main`, and the flags for it."""

import logging as python_logging
import os
import sys

import tensorflow as tf
from absl import app, flags, logging

flags.DEFINE_integer(
    "inter_op_threads",
    0,
    "Threads that run independent ops side by side (0: TensorFlow's choice).",
)
flags.DEFINE_integer(
    "intra_op_threads",
    0,
    "Threads one op may use (0: TensorFlow's choice). The supernet is many "
    "small independent ops: on a CPU, 1 was 1.0x-1.3x faster "
    "(benchmarks/inner_loop_speed.py).",
)

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

    Threads: --inter_op_threads and --intra_op_threads are set before any
    TensorFlow op runs; they size the host's thread pools and do not choose
    a device.

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
        tf.config.threading.set_inter_op_parallelism_threads(
            flags.FLAGS.inter_op_threads
        )
        tf.config.threading.set_intra_op_parallelism_threads(
            flags.FLAGS.intra_op_threads
        )
        try:
            return main(argv)
        except _INPUT_ERRORS as e:
            if logging.get_verbosity() >= logging.INFO:
                raise
            name = os.path.basename(sys.argv[0]).removesuffix(".py")
            print(f"{name}: error: {e}", file=sys.stderr)
            sys.exit(1)

    app.run(quiet_main)
