"""meta_train killed with SIGKILL resumes from its last checkpoint and ends
with the W of an uninterrupted run."""

import dataclasses
import os
import re
import signal
import time

import tensorflow as tf

from base_tf import meta_training
from tests import tfds_testing, tiny

CONFIG = dataclasses.replace(tiny.CONFIG, epochs=12, checkpoint_every=1)


class ResumeTest(tf.test.TestCase):
    def setUp(self):
        super().setUp()
        tfds_testing.require_datasets("mnist")

    def test_sigkill_then_rerun_gives_the_uninterrupted_w(self):
        output_dir = os.path.join(self.get_temp_dir(), "killed")
        flags = tiny.binary_flags(CONFIG, output_dir)
        first = tiny.meta_train_process(flags)
        second_checkpoint = os.path.join(
            output_dir, "checkpoints", "ckpt-2.index"
        )
        deadline = time.monotonic() + 300
        while not os.path.exists(second_checkpoint) and first.poll() is None:
            self.assertLess(
                time.monotonic(), deadline, "no checkpoint in 300 s"
            )
            time.sleep(0.02)
        first.send_signal(signal.SIGKILL)
        out, _ = first.communicate()
        self.assertEqual(first.returncode, -signal.SIGKILL, out)

        second = tiny.meta_train_process(flags)
        out, _ = second.communicate(timeout=600)
        self.assertEqual(second.returncode, 0, out)
        resumed = int(re.search(r"resumed at epoch (\d+)", out).group(1))
        # ckpt-2's files existed, so ckpt-1 was complete; ckpt-2 may not be
        # (the manager records a checkpoint after writing its files).
        self.assertBetween(resumed, 1, CONFIG.epochs - 1)

        tasks = tiny.binary_tasks(CONFIG)
        killed = meta_training.MetaTrainer(CONFIG, tasks, output_dir)
        self.assertEqual(int(killed.epoch.numpy()), CONFIG.epochs)
        straight = meta_training.MetaTrainer(
            CONFIG, tasks, os.path.join(self.get_temp_dir(), "straight")
        )
        straight.train(verbose=0)
        for a, b in zip(
            killed.model.meta_parameters,
            straight.model.meta_parameters,
            strict=True,
        ):
            self.assertAllClose(a, b, rtol=1e-5, atol=1e-6)


if __name__ == "__main__":
    tf.test.main()
