"""What README.md promises a user of base_tf outside Bazel, checked.

* base-tf is installed in the Python running the tests (tools/setup.sh
  installs it in editable mode): `import base_tf` works from any folder
  without PYTHONPATH and finds this checkout, and the package's
  dependencies are requirements.txt's lines.
* The keras-tuner example ("From keras-tuner") runs as written in a
  fresh script: the section's Python blocks, in order and unchanged, in a
  new process (this Python, no PYTHONPATH) in an empty folder that holds
  what the example names, `runs/tiny_cifar10`, a bin:adapt folder built
  here from a tiny DARTS prior meta-trained on MNIST and adapted to
  CIFAR-10. A few lines appended after the README's code check what it
  made.
"""

import dataclasses
import importlib.metadata
import os
import re
import subprocess
import sys

import tensorflow as tf
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from base_tf import adaptation, meta_training
from tests import tfds_testing, tiny

# The checkout whose files the installed package and README.md are: the
# real folder of this file (Bazel runs it from a runfiles tree of links).
SOURCE_ROOT = os.path.dirname(os.path.dirname(os.path.realpath(__file__)))

NOT_INSTALLED = (
    f"base-tf is not installed in {sys.executable}'s environment: run "
    "tools/setup.sh (it installs the package with `pip install -e . "
    "--no-deps`)."
)

# Builds the bin:adapt folder quickly: one epoch of one task of a 1-cell
# DARTS supernet at 8x8, then 2 adaptation steps on 3 CIFAR-10 classes.
META_CONFIG = dataclasses.replace(
    tiny.CONFIG,
    search_space="darts",
    num_cells=1,
    epochs=1,
    tasks_per_epoch=1,
    inner_steps=1,
)
ADAPT = adaptation.AdaptationConfig(
    steps=2, batch_size=8, split="test", train_per_class=16, val_per_class=8
)

# Appended to the README's code: what it must have made.
CHECKS = """
import keras as _keras
import tensorflow as _tf

_images, _labels = train_ds.element_spec
assert _images.dtype == _tf.float32, _images
assert tuple(_images.shape[1:]) == hypermodel.image_shape, _images
assert _labels.dtype.is_integer, _labels
_trials = list(search.oracle.trials.values())
assert len(_trials) == search.oracle.max_trials, _trials
assert all(t.status == "COMPLETED" for t in _trials), _trials
assert isinstance(best, _keras.Model), best
assert best.output_shape == (None, hypermodel.num_classes), best.output_shape
print("README example done:", len(_trials), "trials")
"""


def source_file(name):
    return os.path.join(SOURCE_ROOT, name)


def python_blocks(section):
    """The ```python blocks of README.md's `## {section}`, in order."""
    with open(source_file("README.md")) as f:
        readme = f.read()
    match = re.search(
        rf"^## {re.escape(section)}\n(.*?)(?=^## |\Z)", readme, re.M | re.S
    )
    if match is None:
        raise ValueError(f"README.md has no section '## {section}'.")
    return re.findall(r"^```python\n(.*?)^```", match.group(1), re.M | re.S)


def user_environment():
    """os.environ as a user's fresh shell has it: no PYTHONPATH."""
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    return env


def requirement_key(line):
    requirement = Requirement(line)
    return canonicalize_name(requirement.name), (
        requirement.specifier,
        frozenset(requirement.extras),
        str(requirement.marker),
    )


class InstallTest(tf.test.TestCase):
    def test_import_base_tf_from_anywhere_finds_this_checkout(self):
        result = subprocess.run(
            [sys.executable, "-c", "import base_tf; print(base_tf.__file__)"],
            cwd=self.get_temp_dir(),
            env=user_environment(),
            capture_output=True,
            text=True,
        )
        self.assertEqual(
            result.returncode, 0, f"{NOT_INSTALLED}\n{result.stderr}"
        )
        self.assertEqual(
            os.path.realpath(result.stdout.strip()),
            source_file(os.path.join("base_tf", "__init__.py")),
            "base_tf is installed from another folder: run tools/setup.sh.",
        )

    def test_dependencies_are_requirements_txt(self):
        try:
            installed = importlib.metadata.requires("base-tf") or []
        except importlib.metadata.PackageNotFoundError:
            self.fail(NOT_INSTALLED)
        with open(source_file("requirements.txt")) as f:
            lines = [
                line.strip()
                for line in f
                if line.strip() and not line.lstrip().startswith("#")
            ]
        self.assertEqual(
            dict(map(requirement_key, installed)),
            dict(map(requirement_key, lines)),
            "base-tf's installed dependencies are not requirements.txt: "
            "rerun tools/setup.sh, which reinstalls the package when "
            "requirements.txt or pyproject.toml change.",
        )


class KerasTunerExampleTest(tf.test.TestCase):
    def test_runs_as_written_in_a_fresh_script(self):
        tfds_testing.require_datasets("mnist", "cifar10")
        try:
            importlib.metadata.version("base-tf")
        except importlib.metadata.PackageNotFoundError:
            self.fail(NOT_INSTALLED)
        blocks = python_blocks("From keras-tuner")
        self.assertTrue(
            any("BASEOracle" in block for block in blocks),
            "README.md's 'From keras-tuner' section has no example.",
        )

        folder = self.get_temp_dir()
        meta_dir = os.path.join(folder, "runs", "tiny")
        meta_training.MetaTrainer(META_CONFIG, tiny.tasks(), meta_dir).train(
            verbose=0
        )
        prior = meta_training.load_prior(meta_dir)
        task = adaptation.make_task(
            "cifar10", prior[0], ADAPT, tfds_testing.data_dir()
        )
        adaptation.write_outputs(
            adaptation.adapt(prior, task, ADAPT),
            os.path.join(folder, "runs", "tiny_cifar10"),
        )

        script = os.path.join(folder, "example.py")
        with open(script, "w") as f:
            f.write("\n".join(blocks) + CHECKS)
        log = os.path.join(folder, "example.log")
        with open(log, "w") as out:
            result = subprocess.run(
                [sys.executable, script],
                cwd=folder,
                env=user_environment(),
                stdout=out,
                stderr=subprocess.STDOUT,
                timeout=700,
            )
        with open(log) as f:
            output = f.read()
        self.assertEqual(
            result.returncode,
            0,
            f"The README's keras-tuner example failed:\n{output[-6000:]}",
        )
        self.assertIn("README example done: ", output)


if __name__ == "__main__":
    tf.test.main()
