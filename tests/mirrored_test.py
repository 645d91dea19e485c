"""Meta-training under MirroredStrategy gives the W of one device.

Two logical CPU devices stand in for two accelerators. They must be made
before TensorFlow initialises, so this file runs alone (one Bazel test
target); in a shared pytest process it skips and says so.
"""

import dataclasses

import tensorflow as tf

from base_tf import meta_training
from tests import tfds_testing, tiny

try:
    _CPU = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(
        _CPU, [tf.config.LogicalDeviceConfiguration()] * 2
    )
    _SPLIT_ERROR = None
except RuntimeError as error:  # TensorFlow was initialised already.
    _SPLIT_ERROR = str(error)


class MirroredTest(tf.test.TestCase):
    def setUp(self):
        super().setUp()
        if _SPLIT_ERROR:
            self.skipTest(
                "needs 2 logical CPUs, set before TensorFlow starts; run "
                f"`bazel test //tests:mirrored_test` ({_SPLIT_ERROR})"
            )
        tfds_testing.require_datasets("mnist")

    def test_two_replicas_equal_one_device(self):
        config = dataclasses.replace(tiny.CONFIG, epochs=1)
        tasks = tiny.tasks()
        one = meta_training.MetaTrainer(
            config, tasks, self.get_temp_dir() + "/one"
        )
        strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
        self.assertEqual(strategy.num_replicas_in_sync, 2)
        two = meta_training.MetaTrainer(
            config, tasks, self.get_temp_dir() + "/two", strategy=strategy
        )
        results_one = one.train_epoch()
        results_two = two.train_epoch()
        self.assertEqual(results_two["finite_tasks"], 2.0)
        for a, b in zip(
            one.model.meta_parameters, two.model.meta_parameters, strict=True
        ):
            self.assertAllClose(a, b, rtol=1e-5, atol=1e-6)
        self.assertAllClose(
            results_one["val_accuracy_after"], results_two["val_accuracy_after"]
        )


if __name__ == "__main__":
    tf.test.main()
