"""Tests for base_tf.meta_train_settings."""

import tensorflow as tf
from absl.testing import parameterized

from base_tf import data, meta_train_settings
from base_tf.meta_train_settings import TaskSettings
from base_tf.meta_training_config import MetaTrainingConfig
from tests import tfds_testing


class HeldOutClassesTest(tf.test.TestCase):
    def test_entries_by_dataset(self):
        self.assertEqual(
            meta_train_settings.held_out_classes(
                [
                    "tiny_imagenet:n02124075",
                    "n02123045",
                    "fashion_mnist:5",
                    "6",
                    "mnist:7",
                ]
            ),
            {
                "tiny_imagenet": ["n02124075", "n02123045"],
                "fashion_mnist": [5, 6],
                "mnist": [7],
            },
        )
        self.assertEqual(meta_train_settings.held_out_classes([]), {})

    def test_entry_without_dataset(self):
        with self.assertRaisesRegex(
            ValueError,
            r"--held_out_classes: '5' names no dataset: write the first class "
            r"of each dataset as dataset:class",
        ):
            meta_train_settings.held_out_classes(["5", "mnist:6"])


class MetaTrainingConfigTest(tf.test.TestCase, parameterized.TestCase):
    def test_fields_of_the_values_others_default(self):
        config = meta_train_settings.meta_training_config(
            {"epochs": 3, "channels": 4, "output_dir": "runs/x", "seeds": []}
        )
        self.assertEqual(config, MetaTrainingConfig(epochs=3, channels=4))

    @parameterized.parameters(
        (["16", "32"], (16, 32)), ([16, 32], (16, 32)), ([], None), (None, None)
    )
    def test_image_sizes(self, given, stored):
        config = meta_train_settings.meta_training_config(
            {"image_size": 16, "image_sizes": given}
        )
        self.assertEqual(config.image_sizes, stored)

    @parameterized.named_parameters(
        ("flag", ("image_sizes",), r"^--image_sizes=16,x: give sizes in"),
        ("field", (), r"^image_sizes=16,x: give sizes in pixels, e\.g\. 16,32"),
    )
    def test_bad_image_sizes(self, flags, message):
        with self.assertRaisesRegex(ValueError, message):
            meta_train_settings.meta_training_config(
                {"image_sizes": ["16", "x"]}, flags=flags
            )

    @parameterized.named_parameters(
        ("flag", ("epochs",), r"^--epochs must be a positive int, got 0"),
        ("field", (), r"^MetaTrainingConfig\.epochs must be a positive int"),
    )
    def test_bad_value_named_as_its_flag(self, flags, message):
        with self.assertRaisesRegex(ValueError, message):
            meta_train_settings.meta_training_config({"epochs": 0}, flags=flags)


class TaskSettingsTest(tf.test.TestCase):
    def test_defaults(self):
        settings = TaskSettings()
        self.assertEqual(
            settings.datasets, ("mnist", "fashion_mnist", "cifar10")
        )
        self.assertEqual(settings.held_out_datasets, ("cifar10",))
        self.assertEqual(settings.held_out_classes, ())
        self.assertEqual(settings.image_channels, 3)
        self.assertEqual(
            (settings.train_per_class, settings.val_per_class), (100, 20)
        )
        self.assertIsNone(settings.data_dir)

    def test_from_values(self):
        settings = TaskSettings.from_values(
            {
                "datasets": ["mnist", "cifar10"],
                "held_out_datasets": [],
                "held_out_classes": ["mnist:8", "9"],
                "val_per_class": 5,
                "epochs": 3,  # Not a task setting: ignored.
            }
        )
        self.assertEqual(
            settings,
            TaskSettings(
                datasets=("mnist", "cifar10"),
                held_out_datasets=(),
                held_out_classes=("mnist:8", "9"),
                val_per_class=5,
            ),
        )

    def test_task_distribution(self):
        tfds_testing.require_datasets("mnist", "fashion_mnist")
        settings = TaskSettings(
            datasets=("mnist", "fashion_mnist"),
            held_out_datasets=("fashion_mnist",),
            held_out_classes=("mnist:7", "8", "9"),
            image_channels=1,
            train_per_class=4,
            val_per_class=2,
            data_dir=tfds_testing.data_dir(),
        )
        config = MetaTrainingConfig(num_classes=3, image_size=8, seed=7)
        tasks = settings.task_distribution(config)
        self.assertEqual(
            [s.name for s in tasks.sources], ["mnist", "fashion_mnist"]
        )
        self.assertEqual(tasks.num_classes, 3)
        self.assertEqual(tasks.seed, 7)
        self.assertEqual(tasks.config.image_spec, data.ImageSpec(8, 8, 1))
        self.assertEqual(tasks.config.train_per_class, 4)
        self.assertEqual(tasks.config.val_per_class, 2)
        self.assertEqual(tasks.meta_train.class_ids("mnist"), tuple(range(7)))
        self.assertEqual(tasks.meta_test.class_ids("mnist"), (7, 8, 9))
        self.assertEqual(
            tasks.meta_test.class_ids("fashion_mnist"), tuple(range(10))
        )


if __name__ == "__main__":
    tf.test.main()
