"""meta_train under MultiWorkerMirroredStrategy: two worker processes on
loopback (cluster from TF_CONFIG) end one epoch with the W of one device."""

import dataclasses
import json
import os
import socket
import subprocess
import sys

import tensorflow as tf

from base_tf import data, meta_training
from tests import tfds_testing, tiny

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONFIG = dataclasses.replace(tiny.CONFIG, epochs=1)
TRAIN_PER_CLASS, VAL_PER_CLASS = 16, 8


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _flags(output_dir):
    fields = dataclasses.asdict(CONFIG)
    return [f"--{k}={v}" for k, v in fields.items()] + [
        "--datasets=mnist",
        "--held_out_datasets=",
        f"--train_per_class={TRAIN_PER_CLASS}",
        f"--val_per_class={VAL_PER_CLASS}",
        "--eval_tasks=0",
        "--strategy=multi_worker",
        f"--data_dir={tfds_testing.data_dir()}",
        f"--output_dir={output_dir}",
    ]


class MultiWorkerTest(tf.test.TestCase):
    def setUp(self):
        super().setUp()
        tfds_testing.require_tfds(self, "mnist")

    def test_two_workers_equal_one_device(self):
        output_dir = os.path.join(self.get_temp_dir(), "workers_run")
        cluster = {"worker": [f"127.0.0.1:{_free_port()}" for _ in range(2)]}
        workers = []
        for index in range(2):
            env = dict(os.environ)
            env["TF_CONFIG"] = json.dumps(
                {"cluster": cluster, "task": {"type": "worker", "index": index}}
            )
            env["PYTHONPATH"] = ROOT + os.pathsep + env.get("PYTHONPATH", "")
            env.pop("BUILD_WORKING_DIRECTORY", None)
            workers.append(
                subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "bin.meta_train",
                        *_flags(output_dir),
                    ],
                    cwd=ROOT,
                    env=env,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.STDOUT,
                    text=True,
                )
            )
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

        tasks = data.TaskDistribution(
            ["mnist"],
            num_classes=CONFIG.num_classes,
            config=data.TaskConfig(
                data.ImageSpec(CONFIG.image_size, CONFIG.image_size, 3),
                train_per_class=TRAIN_PER_CLASS,
                val_per_class=VAL_PER_CLASS,
            ),
            data_dir=tfds_testing.data_dir(),
        )
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
