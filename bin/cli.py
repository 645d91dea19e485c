"""What every base-tf binary does before its `main`: one place, no flags."""

import os

from absl import app


def run(main):
    """Runs `main` with absl, relative paths taken from the caller's folder.

    `bazel run` starts a binary inside its runfiles tree; it names the folder
    the user called it from in BUILD_WORKING_DIRECTORY. Moving there first
    makes `--flagfile=configs/tiny.cfg`, `--output_dir=runs/x` and image
    folders mean what they mean in the user's shell. Imports are unaffected:
    the runfiles are already on `sys.path`.
    """
    os.chdir(os.environ.get("BUILD_WORKING_DIRECTORY", os.getcwd()))
    app.run(main)
