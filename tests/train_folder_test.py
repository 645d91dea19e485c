"""bin/train's run folder, run as a program: one run at a time, bad folders
refused in one line before any work, a failed run leaves no folder, a
finished one is reused and one of other flags refused."""

import os
import subprocess
import sys
import tempfile

from absl.testing import absltest

from base_tf import run_folder
from tests import tfds_testing

_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# A 1-cell NAS-Bench-201 network at C=4 on 64 MNIST images at 8x8.
_FLAGS = (
    "--genotype=|nor_conv_3x3~0|+|skip_connect~0|nor_conv_1x1~1|"
    "+|skip_connect~0|none~1|avg_pool_3x3~2|",
    "--dataset=mnist",
    "--image_size=8",
    "--channels=4",
    "--num_cells=1",
    "--epochs=1",
    "--batch_size=32",
    "--max_train_examples=64",
    "--max_test_examples=32",
    "--verbose=0",
)


def _train(output_dir, *flags):
    env = dict(os.environ, PYTHONPATH=_ROOT)
    env.pop("BUILD_WORKING_DIRECTORY", None)
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "bin.train",
            *_FLAGS,
            f"--data_dir={tfds_testing.data_dir()}",
            f"--output_dir={output_dir}",
            *flags,
        ],
        capture_output=True,
        text=True,
        cwd=_ROOT,
        env=env,
        timeout=600,
    )


class TrainFolderTest(absltest.TestCase):
    def setUp(self):
        super().setUp()
        self.root = tempfile.mkdtemp(dir=absltest.get_default_test_tmpdir())

    def assert_one_line_error(self, result, message):
        self.assertEqual(result.returncode, 1, result.stderr)
        self.assertEqual(
            result.stderr.strip().splitlines()[-1], f"train: error: {message}"
        )
        self.assertNotIn("Traceback", result.stderr)

    def test_a_file_is_refused_before_any_work(self):
        path = os.path.join(self.root, "a_file")
        with open(path, "w") as f:
            f.write("not a folder")
        result = _train(path)
        self.assert_one_line_error(
            result,
            f"--output_dir {path} is a file, not a folder: give a folder (a "
            "new one, or one this same run wrote).",
        )
        self.assertNotIn("genotype", result.stdout)

    def test_a_folder_another_run_holds_is_refused_at_once(self):
        path = os.path.join(self.root, "held")
        with run_folder.claim(path, "training", None):
            result = _train(path)
        self.assert_one_line_error(
            result,
            f"--output_dir {path} is in use: another run is writing in it "
            "now (it holds the folder's lock). Wait for that run to end, or "
            "choose another --output_dir.",
        )
        self.assertEqual(os.listdir(path), [])

    def test_a_run_that_fails_before_training_leaves_no_folder(self):
        path = os.path.join(self.root, "failed")
        result = _train(path, "--dataset=no_such_dataset")
        self.assertEqual(result.returncode, 1, result.stderr)
        self.assertIn("no_such_dataset", result.stderr.splitlines()[-1])
        self.assertFalse(os.path.exists(path))

    def test_finished_run_is_reused_and_other_flags_refused(self):
        tfds_testing.require_datasets("mnist")
        path = os.path.join(self.root, "run")
        result = _train(path)
        self.assertEqual(result.returncode, 0, result.stderr[-3000:])
        again = _train(path)
        self.assertEqual(again.returncode, 0, again.stderr[-3000:])
        self.assertIn("already holds this run, finished", again.stdout)
        files = sorted(os.listdir(path))
        other = _train(path, "--seed=1")
        self.assertEqual(other.returncode, 1, other.stderr)
        last = other.stderr.strip().splitlines()[-1]
        self.assertRegex(last, r"^train: error: .*--seed: 0 there, 1 now")
        self.assertEqual(sorted(os.listdir(path)), files)


if __name__ == "__main__":
    absltest.main()
