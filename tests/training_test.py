"""Training a derived network on real MNIST images: fit, resume, outputs."""

import json
import os
import re
import shutil

import keras
import numpy as np
import tensorflow as tf

from base_tf import (
    data,
    evaluation,
    input_pipeline,
    learning_curves,
    optimizers,
    run_folder,
    training,
    training_folder,
)
from base_tf.search_space import CIFAR_TUNED, NasBench201Genotype
from tests import tfds_testing

SPEC = data.ImageSpec(16, 16, 3)
# The smallest DARTS network with everything on: 1 cell (a reduction cell,
# which carries the auxiliary head), drop-path, augmentation, cutout.
CONFIG = training.TrainingConfig(
    epochs=2,
    batch_size=32,
    learning_rate=0.05,
    seed=0,
)
SIZE = {"image_spec": SPEC, "channels": 4, "num_cells": 1}


def write_mnist_folder(root, per_class_train=30, per_class_test=8):
    """Real MNIST digits (its test split), as root/<split>/<class>/*.png."""
    source = data.load_source("mnist", data_dir=tfds_testing.data_dir())
    split = source.materialize("test", SPEC)
    for c in range(10):
        indices = split.class_indices[c][: per_class_train + per_class_test]
        for i, index in enumerate(indices):
            name = "train" if i < per_class_train else "test"
            folder = os.path.join(root, name, str(c))
            os.makedirs(folder, exist_ok=True)
            png = tf.io.encode_png(split.images[index]).numpy()
            with open(os.path.join(folder, f"{index}.png"), "wb") as f:
                f.write(png)
    return root


class TrainingTest(tf.test.TestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        tfds_testing.require_datasets("mnist")
        cls.root = os.path.join(
            os.environ.get("TEST_TMPDIR", "/tmp"), "training_test_mnist"
        )
        shutil.rmtree(cls.root, ignore_errors=True)
        write_mnist_folder(cls.root)

    def test_trains_resumes_and_reloads(self):
        out = os.path.join(self.get_temp_dir(), "run")
        result = training.train(
            CIFAR_TUNED, self.root, CONFIG, out, verbose=0, **SIZE
        )
        rows = learning_curves.read_log(os.path.join(out, training.LOG_FILE))
        self.assertEqual([row["epoch"] for row in rows], [0, 1])
        # The main head's training loss went down.
        self.assertLess(rows[1]["logits_loss"], rows[0]["logits_loss"])
        self.assertEqual(result.initial_epoch, 0)
        self.assertEqual(result.metadata["epochs_this_call"], 2)
        for name in (
            "model.keras",
            "genotype.json",
            "metadata.json",
            "settings.json",
            "curves.png",
            "log.csv",
            "logs",
            "backup",
        ):
            self.assertTrue(os.path.exists(os.path.join(out, name)), name)

        # Rerun with 3 epochs: only the third is trained.
        more = training.train(
            CIFAR_TUNED,
            self.root,
            dict_replace(CONFIG, epochs=3),
            out,
            verbose=0,
            **SIZE,
        )
        self.assertEqual(more.initial_epoch, 2)
        self.assertEqual(more.metadata["epochs_this_call"], 1)
        rows = learning_curves.read_log(os.path.join(out, training.LOG_FILE))
        self.assertEqual([row["epoch"] for row in rows], [0, 1, 2])
        # Again with 3: finished, nothing trained.
        again = training.train(
            CIFAR_TUNED,
            self.root,
            dict_replace(CONFIG, epochs=3),
            out,
            verbose=0,
            **SIZE,
        )
        self.assertEqual(again.initial_epoch, 3)
        self.assertEqual(again.test_accuracy, more.test_accuracy)

        trained = training.load_trained(out)
        self.assertEqual(trained.genotype, CIFAR_TUNED)
        self.assertEqual(trained.class_names, tuple(str(c) for c in range(10)))
        self.assertEqual(trained.image_spec, SPEC)
        self.assertFalse(evaluation.has_auxiliary(trained.model))
        metadata = trained.metadata
        self.assertEqual(metadata["parameter_count"], more.parameter_count)
        self.assertEqual(
            metadata["parameter_count"],
            evaluation.count_parameters(trained.model),
        )
        self.assertEqual(
            (metadata["num_train"], metadata["num_test"]), (300, 80)
        )
        # The saved model gives the reported test accuracy on the test images.
        test = data.load_source(self.root).materialize("test", SPEC)
        logits = trained.model.predict(
            test.images.astype(np.float32) / 255.0, verbose=0
        )
        accuracy = np.mean(np.argmax(logits, -1) == test.labels)
        self.assertNear(accuracy, more.test_accuracy, 1e-6)

        # Another config on the same folder: refused, nothing touched.
        before = {
            name: os.path.getmtime(os.path.join(out, name))
            for name in os.listdir(out)
        }
        with self.assertRaisesRegex(
            run_folder.RunFolderError, "seed: 0 there, 1 now"
        ):
            training.train(
                CIFAR_TUNED,
                self.root,
                dict_replace(CONFIG, seed=1),
                out,
                verbose=0,
                **SIZE,
            )
        genotype = NasBench201Genotype.from_string(
            "|skip_connect~0|+|none~0|none~1|+|none~0|none~1|skip_connect~2|"
        )
        with self.assertRaisesRegex(
            run_folder.RunFolderError,
            "genotype.space: 'darts' there, 'nas_bench_201' now",
        ):
            training.train(genotype, self.root, CONFIG, out, verbose=0, **SIZE)
        with self.assertRaisesRegex(ValueError, "trained for 3 epochs"):
            training.train(
                CIFAR_TUNED, self.root, CONFIG, out, verbose=0, **SIZE
            )
        after = {
            name: os.path.getmtime(os.path.join(out, name))
            for name in os.listdir(out)
        }
        self.assertEqual(after, before)

    def test_training_stream_is_deterministic_and_resumable(self):
        rng = np.random.default_rng(0)
        images = rng.integers(0, 256, (10, 8, 8, 3), dtype=np.uint8)
        labels = np.arange(10)
        config = dict_replace(CONFIG, epochs=3, batch_size=4, cutout=4)

        def stream(start_epoch=0):
            ds = input_pipeline.training_dataset(
                images, labels, config, [0.5] * 3, start_epoch=start_epoch
            )
            return [(x.numpy(), y.numpy()) for x, y in ds]

        full = stream()
        self.assertLen(full, 3 * input_pipeline.steps_per_epoch(10, 4))
        for (xa, ya), (xb, yb) in zip(full, stream(), strict=True):
            self.assertAllEqual(xa, xb)
            self.assertAllEqual(ya, yb)
        # Resumed at epoch 1: the uninterrupted stream's last two epochs.
        for (xa, ya), (xb, yb) in zip(full[3:], stream(1), strict=True):
            self.assertAllEqual(xa, xb)
            self.assertAllEqual(ya, yb)
        # Each epoch sees every example once, in a new order.
        epochs = [np.concatenate([y for _, y in full[e * 3 : e * 3 + 3]])
                  for e in range(3)]  # fmt: skip
        for order in epochs:
            self.assertAllEqual(np.sort(order), labels)
        self.assertNotAllEqual(epochs[0], epochs[1])

    def test_darts_sgd_is_pytorch_sgd(self):
        # b = m b + (g + l2 w); w -= lr b, after global-norm clipping.
        w = keras.Variable(np.array([1.0, -2.0], np.float32))
        optimizer = optimizers.DartsSGD(
            0.1, momentum=0.9, l2=0.01, global_clipnorm=1.0
        )
        expected_w = np.array([1.0, -2.0])
        buffer = np.zeros(2)
        for g in ([3.0, 4.0], [0.3, 0.4]):
            g = np.array(g)
            g = g * min(1.0, 1.0 / np.linalg.norm(g))
            buffer = 0.9 * buffer + g + 0.01 * expected_w
            expected_w = expected_w - 0.1 * buffer
            optimizer.apply([tf.constant(g, tf.float32)], [w])
        self.assertAllClose(w.numpy(), expected_w)

    def test_bad_input(self):
        with self.assertRaisesRegex(ValueError, "batch_size"):
            training.TrainingConfig(batch_size=0)
        with self.assertRaisesRegex(ValueError, "drop_path"):
            training.TrainingConfig(drop_path=1.0)
        # A folder with other files is not a training run.
        other = os.path.join(self.get_temp_dir(), "other")
        os.makedirs(other)
        with open(os.path.join(other, "notes.txt"), "w") as f:
            f.write("mine")
        with self.assertRaisesRegex(
            run_folder.RunFolderError, "holds no training run"
        ):
            training.train(CIFAR_TUNED, self.root, CONFIG, other, **SIZE)
        with self.assertRaisesRegex(FileNotFoundError, "not a finished"):
            training.load_trained(other)
        with self.assertRaisesRegex(data.DataError, "Unknown TFDS dataset"):
            training.train(CIFAR_TUNED, "mnistt", CONFIG, other, **SIZE)

    def test_a_run_recorded_in_run_json_is_taken_over(self):
        # What versions before settings.json wrote: run.json, every setting
        # but epochs and jit_compile.
        out = os.path.join(self.get_temp_dir(), "older_run")
        os.makedirs(os.path.join(out, "backup"))
        config = {
            k: v
            for k, v in CONFIG.__dict__.items()
            if k not in training_folder.RERUN_FIELDS
        }
        with open(os.path.join(out, training_folder.OLDER_RUN_FILE), "w") as f:
            json.dump(
                {
                    "genotype": CIFAR_TUNED.to_dict(),
                    "dataset": self.root,
                    "image_spec": {"height": 16, "width": 16, "channels": 3},
                    "channels": 4,
                    "num_cells": 1,
                    "config": config,
                },
                f,
            )
        source = data.load_source(self.root)
        with self.assertRaisesRegex(
            run_folder.RunFolderError,
            "holds a training run with other settings: --seed: 0 there, 1 now",
        ):
            training_folder.claim_output_dir(
                out,
                CIFAR_TUNED,
                source,
                dict_replace(CONFIG, seed=1),
                flags=["seed"],
                **SIZE,
            )
        self.assertEqual(sorted(os.listdir(out)), ["backup", "run.json"])
        with training_folder.claim_output_dir(
            out, CIFAR_TUNED, source, dict_replace(CONFIG, epochs=5), **SIZE
        ) as folder:
            self.assertTrue(folder.resumed)
        self.assertEqual(
            run_folder.read_settings(out),
            (
                "training",
                json.loads(
                    json.dumps(
                        training_folder.run_settings(
                            CIFAR_TUNED, source, CONFIG, **SIZE
                        )
                    )
                ),
            ),
        )

    def test_a_class_without_training_images_is_refused(self):
        root = os.path.join(self.get_temp_dir(), "empty_class")
        shutil.copytree(self.root, root)
        shutil.rmtree(os.path.join(root, "train", "7"))
        os.makedirs(os.path.join(root, "train", "7"))  # Empty; test/7 is not.
        out = os.path.join(self.get_temp_dir(), "empty_class_run")
        with self.assertRaisesRegex(
            data.DataError,
            r"1 of its 10 classes have no 'train' images \('7'\), so the "
            r"network would never learn them: add images to "
            f"{re.escape(os.path.join(root, 'train', '7'))}, or remove",
        ):
            training.train(CIFAR_TUNED, root, CONFIG, out, verbose=0, **SIZE)
        self.assertFalse(os.path.exists(out))


def dict_replace(config, **changes):
    return training.TrainingConfig(**{**config.__dict__, **changes})


if __name__ == "__main__":
    tf.test.main()
