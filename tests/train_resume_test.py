"""bin/train killed with SIGKILL after an epoch's backup, then rerun, ends
with the weights of an uninterrupted run."""

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import tensorflow as tf

from base_tf import training
from tests import tfds_testing
from tests.training_test import SPEC, write_mnist_folder

_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# The smallest DARTS network with every source of randomness on: drop-path
# (from the second epoch on), crop, flip, cutout and the example order; 100
# MNIST images, 4 steps an epoch.
CONFIG = training.TrainingConfig(
    epochs=4, batch_size=32, learning_rate=0.05, drop_path=0.3, seed=3
)
SIZE = {"image_spec": SPEC, "channels": 4, "num_cells": 1}


def train_process(root, output_dir):
    """`python -m bin.train` on `root` with `CONFIG`, from the checkout."""
    flags = [
        "--genotype=CIFAR_TUNED",
        f"--dataset={root}",
        f"--output_dir={output_dir}",
        f"--image_size={SPEC.height}",
        f"--channels={SIZE['channels']}",
        f"--num_cells={SIZE['num_cells']}",
        "--verbose=2",
    ] + [
        f"--{name}={getattr(CONFIG, name)}"
        for name in (
            "epochs",
            "batch_size",
            "learning_rate",
            "drop_path",
            "seed",
        )
    ]
    env = dict(os.environ, PYTHONPATH=_ROOT)
    env.pop("BUILD_WORKING_DIRECTORY", None)
    return subprocess.Popen(
        [sys.executable, "-m", "bin.train", *flags],
        cwd=_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def backed_up_epoch(output_dir):
    """The epoch the run's backup holds (0: none yet)."""
    path = os.path.join(
        output_dir, training.BACKUP_DIR, "training_metadata.json"
    )
    try:
        with open(path) as f:
            return json.load(f)["epoch"]
    except (OSError, ValueError):  # Not there, or being replaced.
        return 0


class TrainResumeTest(tf.test.TestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        tfds_testing.require_datasets("mnist")
        cls.root = os.path.join(
            os.environ.get("TEST_TMPDIR", "/tmp"), "train_resume_test_mnist"
        )
        shutil.rmtree(cls.root, ignore_errors=True)
        write_mnist_folder(cls.root, per_class_train=10, per_class_test=4)

    def test_sigkill_then_rerun_gives_the_uninterrupted_weights(self):
        # The uninterrupted run is a bin/train process too, beside the one
        # to kill: a run in this process would build its network after
        # other tests' Keras models, and Keras's global state (layer names)
        # can change the last bit of float sums (see training.train).
        straight_dir = os.path.join(self.get_temp_dir(), "straight")
        uninterrupted = train_process(self.root, straight_dir)
        killed_dir = os.path.join(self.get_temp_dir(), "killed")
        first = train_process(self.root, killed_dir)
        deadline = time.monotonic() + 300
        while backed_up_epoch(killed_dir) < 1 and first.poll() is None:
            self.assertLess(time.monotonic(), deadline, "no backup in 300 s")
            time.sleep(0.01)
        first.send_signal(signal.SIGKILL)
        out, _ = first.communicate()
        self.assertEqual(first.returncode, -signal.SIGKILL, out)
        self.assertFalse(
            os.path.exists(os.path.join(killed_dir, training.METADATA_FILE))
        )

        second = train_process(self.root, killed_dir)
        out, _ = second.communicate(timeout=600)
        self.assertEqual(second.returncode, 0, out)
        resumed = int(re.search(r"resumed at epoch (\d+)", out).group(1))
        self.assertBetween(resumed, 1, CONFIG.epochs - 1)

        out, _ = uninterrupted.communicate(timeout=600)
        self.assertEqual(uninterrupted.returncode, 0, out)
        self.assertNotIn("resumed", out)
        killed = training.load_trained(killed_dir)
        straight = training.load_trained(straight_dir)
        differences = [
            np.max(np.abs(a - b), initial=0.0)
            for a, b in zip(
                killed.model.get_weights(),
                straight.model.get_weights(),
                strict=True,
            )
        ]
        print(
            f"resumed at epoch {resumed} of {CONFIG.epochs}; largest weight "
            f"difference to the uninterrupted run: {max(differences):.3g}"
        )
        for a, b in zip(
            killed.model.get_weights(),
            straight.model.get_weights(),
            strict=True,
        ):
            self.assertAllClose(a, b, rtol=1e-6, atol=1e-6)
        self.assertEqual(
            killed.metadata["test_accuracy"], straight.metadata["test_accuracy"]
        )


if __name__ == "__main__":
    tf.test.main()
