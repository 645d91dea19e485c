"""meta_train --cpu_devices: one CPU split into 2 logical devices makes
--strategy=mirrored run 2 replicas, as on a machine with 2 GPUs; values
the split cannot honour are refused naming the flag.

The split must happen before TensorFlow initialises, so the program runs
in processes of its own (this test process may have initialised it).
"""

import dataclasses
import os

import tensorflow as tf

from base_tf import meta_training
from tests import tfds_testing, tiny

CONFIG = dataclasses.replace(tiny.CONFIG, epochs=1)


def _run(flags):
    """Runs meta_train with `flags`; its exit status and output."""
    process = tiny.meta_train_process(flags)
    try:
        output = process.communicate(timeout=300)[0]
    finally:  # a hung run must not outlive the test
        if process.poll() is None:
            process.kill()
    return process.returncode, output


class CpuDevicesTest(tf.test.TestCase):
    def test_two_logical_cpus_make_two_replicas(self):
        tfds_testing.require_datasets("mnist")
        output_dir = os.path.join(self.get_temp_dir(), "mirrored_run")
        flags = tiny.binary_flags(CONFIG, output_dir, "mirrored")
        code, output = _run([*flags, "--cpu_devices=2"])
        self.assertEqual(code, 0, output)
        self.assertIn("2 replica(s)", output)
        checkpoint = tf.train.load_checkpoint(meta_training.latest(output_dir))
        epoch = checkpoint.get_tensor("epoch/.ATTRIBUTES/VARIABLE_VALUE")
        self.assertEqual(int(epoch), 1)

    def test_refuses_what_it_cannot_split(self):
        output_dir = os.path.join(self.get_temp_dir(), "refused")
        for strategy, value, says in (
            ("mirrored", -1, "--cpu_devices=-1: give how many"),
            ("default", 2, "for --strategy=mirrored only"),
        ):
            with self.subTest(strategy=strategy, value=value):
                flags = tiny.binary_flags(CONFIG, output_dir, strategy)
                code, output = _run([*flags, f"--cpu_devices={value}"])
                self.assertEqual(code, 1, output)
                self.assertIn(says, output)
                self.assertFalse(os.path.exists(output_dir))


if __name__ == "__main__":
    tf.test.main()
