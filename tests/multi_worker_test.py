"""meta_train under MultiWorkerMirroredStrategy: two worker processes on
loopback (cluster from TF_CONFIG) end one epoch with the W of one device."""

import dataclasses
import json
import os
import socket

import tensorflow as tf

from base_tf import meta_training
from tests import tfds_testing, tiny

CONFIG = dataclasses.replace(tiny.CONFIG, epochs=1)


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class MultiWorkerTest(tf.test.TestCase):
    def setUp(self):
        super().setUp()
        tfds_testing.require_datasets("mnist")

    def test_two_workers_equal_one_device(self):
        output_dir = os.path.join(self.get_temp_dir(), "workers_run")
        cluster = {"worker": [f"127.0.0.1:{_free_port()}" for _ in range(2)]}
        flags = tiny.binary_flags(CONFIG, output_dir, "multi_worker")
        workers = []
        for index in range(2):
            env = dict(os.environ)
            env["TF_CONFIG"] = json.dumps(
                {"cluster": cluster, "task": {"type": "worker", "index": index}}
            )
            workers.append(tiny.meta_train_process(flags, env))
        outputs = []
        try:
            for worker in workers:
                outputs.append(worker.communicate(timeout=600)[0])
        finally:  # a hung or failed worker must not outlive the test
            for worker in workers:
                if worker.poll() is None:
                    worker.kill()
        for index, (worker, out) in enumerate(
            zip(workers, outputs, strict=True)
        ):
            self.assertEqual(worker.returncode, 0, f"worker {index}:\n{out}")

        tasks = tiny.binary_tasks(CONFIG)
        # The chief's checkpoint, restored by a trainer on its folder.
        restored = meta_training.MetaTrainer(CONFIG, tasks, output_dir)
        self.assertEqual(int(restored.epoch.numpy()), 1)
        reference = meta_training.MetaTrainer(
            CONFIG, tasks, os.path.join(self.get_temp_dir(), "one_device")
        )
        reference.train_epoch()
        for a, b in zip(
            restored.model.meta_parameters,
            reference.model.meta_parameters,
            strict=True,
        ):
            self.assertAllClose(a, b, rtol=1e-5, atol=1e-6)


if __name__ == "__main__":
    tf.test.main()
