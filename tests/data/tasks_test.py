"""Tests for base_tf.data.tasks, on the real datasets and real images."""

import os
import tempfile

import numpy as np
import tensorflow as tf
import tensorflow_datasets as tfds
from absl.testing import parameterized

from base_tf import data
from base_tf.data import DataError, ImageSpec, TaskConfig
from tests import tfds_testing

# Tests draw from the 10k-image test splits at small sizes, to stay fast.
SPEC = ImageSpec(16, 16, 3)
SMALL = TaskConfig(
    SPEC, train_split="test", train_per_class=30, val_per_class=10
)


def _raw(test_case, name, split="test"):
    """`name`'s split as TFDS serves it: uint8 images and int labels."""
    tfds_testing.require_datasets(name)
    return tfds.as_numpy(
        tfds.load(
            name,
            split=split,
            batch_size=-1,
            as_supervised=True,
            data_dir=tfds_testing.data_dir(),
            download=False,
        )
    )


def _source(test_case, name):
    tfds_testing.require_datasets(name)
    return data.load_source(name, data_dir=tfds_testing.data_dir())


def _batches(dataset, count):
    return [(x.numpy(), y.numpy()) for x, y in dataset.take(count)]


def _sorted_rows(images):
    flat = images.reshape(len(images), -1)
    return flat[np.lexsort(flat.T[::-1])]


class MakeTaskTest(parameterized.TestCase, tf.test.TestCase):
    def test_relabels_classes_and_keeps_their_images(self):
        raw_images, raw_labels = _raw(self, "mnist")
        config = TaskConfig(
            ImageSpec(28, 28, 1),
            train_split="test",
            train_per_class=30,
            val_per_class=10,
        )
        task = data.make_task(_source(self, "mnist"), [7, 2, 5], config, seed=3)
        self.assertEqual(task.source_name, "mnist")
        self.assertEqual(task.class_ids, (7, 2, 5))
        self.assertEqual(task.class_names, ("7", "2", "5"))
        self.assertEqual(task.num_classes, 3)
        self.assertEqual((task.num_train, task.num_val), (90, 30))
        self.assertAllEqual(np.bincount(task.train_labels), [30, 30, 30])
        self.assertAllEqual(np.bincount(task.val_labels), [10, 10, 10])
        self.assertEqual(task.train_labels.dtype, np.int32)
        class_ids = np.array(task.class_ids)
        for images, labels, indices in (
            (task.train_images, task.train_labels, task.train_indices),
            (task.val_images, task.val_labels, task.val_indices),
        ):
            # Label i is original class class_ids[i], with its own image.
            self.assertAllEqual(raw_labels[indices], class_ids[labels])
            self.assertAllEqual(images, raw_images[indices])

    def test_train_and_val_are_disjoint(self):
        task = data.make_task(_source(self, "cifar10"), [0, 1, 2], SMALL)
        self.assertEmpty(np.intersect1d(task.train_indices, task.val_indices))
        self.assertLen(np.unique(task.train_indices), task.num_train)
        self.assertLen(np.unique(task.val_indices), task.num_val)

    def test_classes_by_name(self):
        task = data.make_task(_source(self, "cifar10"), ["cat", "dog"], SMALL)
        self.assertEqual(task.class_ids, (3, 5))
        self.assertEqual(task.class_names, ("cat", "dog"))

    def test_same_seed_same_task_other_seed_other_task(self):
        source = _source(self, "cifar10")
        first = data.make_task(source, [4, 1], SMALL, seed=7)
        again = data.make_task(source, [4, 1], SMALL, seed=7)
        other = data.make_task(source, [4, 1], SMALL, seed=8)
        self.assertAllEqual(first.train_indices, again.train_indices)
        self.assertAllEqual(first.val_indices, again.val_indices)
        self.assertAllEqual(first.train_images, again.train_images)
        self.assertEqual(first.seed, again.seed)
        self.assertNotAllEqual(first.train_indices, other.train_indices)
        self.assertNotEqual(first.seed, other.seed)

    def test_defaults_take_all_examples_and_carve_val_fraction(self):
        _, raw_labels = _raw(self, "mnist")
        config = TaskConfig(SPEC, train_split="test", val_fraction=0.25)
        task = data.make_task(_source(self, "mnist"), [0, 1], config)
        counts = np.bincount(raw_labels)[:2]
        expected_val = np.round(counts * 0.25).astype(int)
        self.assertAllEqual(np.bincount(task.val_labels), expected_val)
        self.assertAllEqual(
            np.bincount(task.train_labels), counts - expected_val
        )

    def test_val_from_another_split(self):
        root = _digits_folder(self)
        config = TaskConfig(SPEC, val_split="test", train_per_class=10)
        task = data.make_task(root, ["zero", "two"], config)
        self.assertEqual((task.train_split, task.val_split), ("train", "test"))
        self.assertAllEqual(np.bincount(task.train_labels), [10, 10])
        self.assertAllEqual(np.bincount(task.val_labels), [5, 5])  # All.

    def test_grey_images_become_rgb_at_the_target_size(self):
        task = data.make_task(_source(self, "fashion_mnist"), [0, 9], SMALL)
        self.assertEqual(task.train_images.shape, (60, 16, 16, 3))
        images, _ = next(iter(task.train_dataset(8)))
        self.assertEqual(images.shape, (8, 16, 16, 3))
        self.assertAllEqual(images[..., 0], images[..., 2])

    def test_too_few_examples_in_a_class(self):
        config = TaskConfig(
            SPEC, train_split="test", train_per_class=1000, val_per_class=100
        )
        with self.assertRaisesRegex(
            DataError,
            r"Class '0' \(id 0\) of mnist has 980 examples in split 'test', "
            r"fewer than the 1100 a task needs.*Lower train_per_class",
        ):
            data.make_task(_source(self, "mnist"), [0, 1], config)

    def test_class_without_examples(self):
        root = _digits_folder(self, extra_class="three")
        with self.assertRaisesRegex(
            DataError, r"Class 'three' \(id 1\) of .* has 0 examples"
        ):
            data.make_task(root, ["zero", "three"], TaskConfig(SPEC))

    @parameterized.named_parameters(
        ("one_class", [3], "at least 2 classes"),
        ("repeated", [3, 3], "classes must differ"),
        ("unknown_name", ["cat", "unicorn"], "no class named 'unicorn'"),
        ("out_of_range", [0, 10], "Class id 10 is out of range"),
    )
    def test_bad_classes(self, class_ids, message):
        source = _source(self, "cifar10")
        with self.assertRaisesRegex(DataError, message):
            data.make_task(source, class_ids, SMALL)

    def test_missing_split(self):
        config = TaskConfig(SPEC, train_split="validation")
        with self.assertRaisesRegex(DataError, "has no split 'validation'"):
            data.make_task(_source(self, "cifar10"), [0, 1], config)

    @parameterized.parameters(-1, "x", 1.5)
    def test_bad_seed(self, seed):
        with self.assertRaisesRegex(DataError, "seed must be an int >= 0"):
            data.make_task(_source(self, "cifar10"), [0, 1], SMALL, seed=seed)


class TaskConfigTest(parameterized.TestCase, tf.test.TestCase):
    @parameterized.named_parameters(
        ("zero_train", dict(train_per_class=0), "train_per_class must be"),
        ("float_val", dict(val_per_class=2.5), "val_per_class must be"),
        ("fraction_one", dict(val_fraction=1.0), r"val_fraction .* \(0, 1\)"),
        (
            "same_splits",
            dict(val_split="train"),
            "val_split equals train_split",
        ),
        ("spec", dict(image_spec=(32, 32, 3)), "must be an ImageSpec"),
        ("empty_split", dict(train_split=""), "train_split must be a split"),
    )
    def test_rejects_bad_values(self, kwargs, message):
        with self.assertRaisesRegex(DataError, message):
            TaskConfig(**kwargs)

    def test_required_examples_per_class(self):
        self.assertEqual(
            TaskConfig(train_per_class=5, val_per_class=2).required_per_class(),
            {"train": 7},
        )
        self.assertEqual(
            TaskConfig(val_split="test", val_per_class=3).required_per_class(),
            {"train": 1, "test": 3},
        )
        # 20% kept for validation, 8 left for training.
        self.assertEqual(
            TaskConfig(train_per_class=8).required_per_class(), {"train": 10}
        )


class TaskDatasetTest(parameterized.TestCase, tf.test.TestCase):
    def _task(self):
        return data.make_task(_source(self, "cifar10"), [0, 1, 2], SMALL)

    def test_train_batches_are_float_images_and_int_labels(self):
        task = self._task()
        images, labels = next(iter(task.train_dataset(16)))
        self.assertEqual(images.shape, (16, 16, 16, 3))
        self.assertEqual(images.dtype, tf.float32)
        self.assertEqual(labels.dtype, tf.int32)
        self.assertAllInRange(images, 0.0, 1.0)
        self.assertAllInSet(labels, [0, 1, 2])

    def test_one_epoch_serves_each_example_once(self):
        task = self._task()
        batches = _batches(task.train_dataset(32, repeat=False), 10)
        self.assertEqual([len(y) for _, y in batches], [32, 32, 26])
        images = np.concatenate([x for x, _ in batches])
        labels = np.concatenate([y for _, y in batches])
        self.assertAllEqual(np.bincount(labels), np.bincount(task.train_labels))
        self.assertAllClose(
            _sorted_rows(np.round(images * 255).astype(np.uint8)),
            _sorted_rows(task.train_images),
        )
        # Each image keeps its label through the shuffle.
        key = {
            img.tobytes(): lab
            for img, lab in zip(
                task.train_images, task.train_labels, strict=True
            )
        }
        for image, label in zip(images, labels, strict=True):
            restored = np.round(image * 255).astype(np.uint8).tobytes()
            self.assertEqual(key[restored], label)

    def test_same_seed_same_batches_whatever_the_global_seed(self):
        task = self._task()
        tf.random.set_seed(1)
        first = _batches(task.train_dataset(32, seed=5), 8)  # ~3 epochs.
        tf.random.set_seed(2)
        again = _batches(task.train_dataset(32, seed=5), 8)
        other = _batches(task.train_dataset(32, seed=6), 8)
        for (x1, y1), (x2, y2) in zip(first, again, strict=True):
            self.assertAllEqual(x1, x2)
            self.assertAllEqual(y1, y2)
        self.assertNotAllEqual(first[0][1], other[0][1])
        # Each epoch is a new permutation.
        epoch1 = np.concatenate([y for _, y in first])[:90]
        epoch2 = np.concatenate([y for _, y in first])[90:180]
        self.assertNotAllEqual(epoch1, epoch2)

    def test_default_seed_is_the_tasks(self):
        task = self._task()
        default = _batches(task.train_dataset(32), 2)
        explicit = _batches(task.train_dataset(32, seed=task.seed), 2)
        self.assertAllEqual(default[1][0], explicit[1][0])

    def test_val_is_one_pass_in_order(self):
        task = self._task()
        batches = _batches(task.val_dataset(16), 10)
        self.assertEqual([len(y) for _, y in batches], [16, 14])
        images = np.concatenate([x for x, _ in batches])
        self.assertAllClose(images, task.val_images / 255.0)
        labels = np.concatenate([y for _, y in batches])
        self.assertAllEqual(labels, task.val_labels)

    def test_drop_remainder(self):
        task = self._task()
        batches = _batches(task.val_dataset(16, drop_remainder=True), 10)
        self.assertEqual([len(y) for _, y in batches], [16])

    @parameterized.parameters(0, -3, 2.0)
    def test_bad_batch_size(self, batch_size):
        task = self._task()
        with self.assertRaisesRegex(DataError, "batch_size must be a positive"):
            task.train_dataset(batch_size)

    def test_bad_shuffle_seed(self):
        with self.assertRaisesRegex(DataError, r"seed must be an int in \[0"):
            self._task().train_dataset(8, seed=-1)


def _digits_folder(test_case, extra_class=None):
    """root/{train,test}/{zero,one,two}/*.png: 12 and 5 real MNIST digits."""
    images, labels = _raw(test_case, "mnist")
    root = tempfile.mkdtemp(dir=test_case.get_temp_dir())
    for label, class_name in enumerate(["zero", "one", "two"]):
        digits = images[labels == label]
        for split, members in (("train", digits[:12]), ("test", digits[12:17])):
            folder = os.path.join(root, split, class_name)
            os.makedirs(folder)
            for i, digit in enumerate(members):
                path = os.path.join(folder, f"{i}.png")
                tf.io.write_file(path, tf.io.encode_png(digit))
    if extra_class:
        os.makedirs(os.path.join(root, "train", extra_class))
    return root


if __name__ == "__main__":
    tf.test.main()
