"""Tests for base_tf.data.distribution, on the real datasets."""

import collections

import numpy as np
import tensorflow as tf
from absl.testing import parameterized

from base_tf import data
from base_tf.data import DataError, ImageSpec, TaskConfig, TaskDistribution
from tests import tfds_testing

NAMES = ("cifar10", "mnist", "fashion_mnist")
# Tests draw from the 10k-image test splits at small sizes, to stay fast.
SMALL = TaskConfig(
    ImageSpec(16, 16, 3),
    train_split="test",
    train_per_class=20,
    val_per_class=5,
)


class TaskDistributionTest(parameterized.TestCase, tf.test.TestCase):
    def setUp(self):
        super().setUp()
        tfds_testing.require_datasets(*NAMES)

    def _dist(self, num_classes=3, **kwargs):
        kwargs.setdefault("config", SMALL)
        return TaskDistribution(
            NAMES, num_classes, data_dir=tfds_testing.data_dir(), **kwargs
        )

    def test_sample_depends_only_on_seed_and_index(self):
        dist = self._dist(seed=11)
        fresh = self._dist(seed=11)
        other = self._dist(seed=12)
        differs = 0
        for index in range(8):
            task = dist.sample(index)
            again = fresh.sample(index)
            self.assertEqual(task.source_name, again.source_name)
            self.assertEqual(task.class_ids, again.class_ids)
            self.assertAllEqual(task.train_indices, again.train_indices)
            self.assertAllEqual(task.val_indices, again.val_indices)
            self.assertEqual(task.seed, again.seed)
            twin = other.sample(index)
            differs += (twin.source_name, twin.class_ids) != (
                task.source_name,
                task.class_ids,
            )
        self.assertGreater(differs, 4)
        # The index, not the order of calls, decides the task.
        self.assertEqual(dist.sample(3).class_ids, fresh.sample(3).class_ids)
        self.assertNotEqual(
            [dist.sample(i).class_ids for i in range(4)],
            [dist.sample(i + 4).class_ids for i in range(4)],
        )

    def test_tasks_have_k_relabelled_classes(self):
        dist = self._dist(num_classes=4)
        for index in range(5):
            task = dist.sample(index)
            self.assertEqual(task.num_classes, 4)
            self.assertLen(set(task.class_ids), 4)
            self.assertAllEqual(np.bincount(task.train_labels), [20] * 4)
            self.assertAllEqual(np.bincount(task.val_labels), [5] * 4)
            self.assertEqual(task.train_images.shape[1:], (16, 16, 3))
            self.assertEmpty(
                np.intersect1d(task.train_indices, task.val_indices)
            )

    def test_mixture_draws_from_every_source(self):
        dist = self._dist()
        counts = collections.Counter(
            dist.sample(i).source_name for i in range(45)
        )
        self.assertCountEqual(counts, NAMES)
        self.assertAllClose(
            list(dist.source_probabilities().values()), [1 / 3] * 3
        )

    def test_weights(self):
        dist = self._dist(weights=[0, 1, 3])
        counts = collections.Counter(
            dist.sample(i).source_name for i in range(40)
        )
        self.assertNotIn("cifar10", counts)
        self.assertGreater(counts["fashion_mnist"], counts["mnist"])
        self.assertEqual(
            dist.source_probabilities(),
            {"cifar10": 0.0, "mnist": 0.25, "fashion_mnist": 0.75},
        )

    @parameterized.parameters([[8, 9]], [["ship", "truck"]])
    def test_held_out_classes(self, held_out):
        dist = self._dist(held_out_classes={"cifar10": held_out})
        self.assertEqual(dist.partition, "meta_train")
        self.assertEqual(dist.class_ids("cifar10"), tuple(range(8)))
        seen_cifar10 = set()
        for index in range(40):
            task = dist.meta_train.sample(index)
            if task.source_name == "cifar10":
                seen_cifar10.update(task.class_ids)
        self.assertTrue(seen_cifar10)
        self.assertNotIn(8, seen_cifar10)
        self.assertNotIn(9, seen_cifar10)
        meta_test = dist.view("meta_test", num_classes=2)
        self.assertEqual(meta_test.source_probabilities(), {"cifar10": 1.0})
        for index in range(5):
            task = meta_test.sample(index)
            self.assertEqual(task.source_name, "cifar10")
            self.assertCountEqual(task.class_ids, [8, 9])
            self.assertCountEqual(task.class_names, ["ship", "truck"])

    def test_held_out_sources(self):
        dist = self._dist(held_out_sources=["fashion_mnist"])
        train_sources = {
            dist.meta_train.sample(i).source_name for i in range(30)
        }
        self.assertEqual(train_sources, {"cifar10", "mnist"})
        test_sources = {dist.meta_test.sample(i).source_name for i in range(5)}
        self.assertEqual(test_sources, {"fashion_mnist"})

    def test_all_classes_of_a_held_out_dataset(self):
        dist = self._dist(held_out_sources=["fashion_mnist"])
        task = dist.view("meta_test", num_classes=None).sample(0)
        self.assertEqual(task.source_name, "fashion_mnist")
        self.assertCountEqual(task.class_ids, range(10))

    def test_views_share_sources_and_seed(self):
        dist = self._dist(held_out_sources=["mnist"], seed=4)
        self.assertIs(dist.meta_train, dist)
        self.assertEqual(dist.meta_test.partition, "meta_test")
        self.assertEqual(dist.meta_test.seed, 4)
        self.assertIs(dist.meta_test.sources, dist.sources)
        self.assertEqual(dist.meta_test.meta_train.class_ids("mnist"), ())

    def test_a_task_at_another_size_is_the_same_task(self):
        dist = self._dist(held_out_sources=["mnist"])
        small = dist.sample(3)
        large = dist.sample(3, image_spec=ImageSpec(24, 24, 3))
        self.assertEqual(large.train_images.shape[1:], (24, 24, 3))
        self.assertEqual(small.class_ids, large.class_ids)
        self.assertAllEqual(small.train_indices, large.train_indices)
        self.assertAllEqual(small.val_indices, large.val_indices)

    def test_only_one_source(self):
        dist = self._dist(held_out_sources=["mnist", "fashion_mnist"])
        test = dist.meta_test.only("fashion_mnist")
        self.assertEqual(
            test.source_probabilities(), {"fashion_mnist": 1.0, "mnist": 0.0}
        )
        self.assertEqual(test.sample(0).source_name, "fashion_mnist")
        with self.assertRaisesRegex(DataError, "has no classes"):
            dist.meta_test.only("cifar10")
        with self.assertRaisesRegex(DataError, "not among the sources"):
            dist.only("svhn")

    def test_held_out_by_wordnet_id(self):
        tfds_testing.require_datasets("tiny_imagenet")
        dist = TaskDistribution(
            ["tiny_imagenet"],
            2,
            config=TaskConfig(
                ImageSpec(16, 16, 3),
                train_split="validation",
                train_per_class=20,
                val_per_class=5,
            ),
            held_out_classes={"tiny_imagenet": ["n02124075", "tabby"]},
            data_dir=tfds_testing.data_dir(),
        )
        task = dist.meta_test.sample(0)
        self.assertCountEqual(task.class_names, ["Egyptian_cat", "tabby"])

    def test_sources_are_any_spec(self):
        sources = [
            data.load_source("cifar10", data_dir=tfds_testing.data_dir())
        ]
        dist = TaskDistribution(sources, 2, config=SMALL)
        self.assertEqual(dist.sample(0).source_name, "cifar10")


class TaskDistributionErrorTest(parameterized.TestCase, tf.test.TestCase):
    def setUp(self):
        super().setUp()
        tfds_testing.require_datasets(*NAMES)

    def _dist(self, *args, **kwargs):
        kwargs.setdefault("config", SMALL)
        return TaskDistribution(
            *args, data_dir=tfds_testing.data_dir(), **kwargs
        )

    def test_more_classes_than_the_dataset_has(self):
        with self.assertRaisesRegex(
            DataError,
            r"num_classes=11 needs 11 meta_train classes in every source, "
            r"more than some have \(cifar10 has 10; mnist has 10\)",
        ):
            self._dist(["cifar10", "mnist"], 11)

    def test_more_classes_than_remain_after_holding_out(self):
        with self.assertRaisesRegex(
            DataError, r"num_classes=9 needs 9 meta_train .* \(cifar10 has 8\)"
        ):
            self._dist(["cifar10"], 9, held_out_classes={"cifar10": [0, 1]})

    def test_more_classes_than_are_held_out(self):
        dist = self._dist(["cifar10"], 3, held_out_classes={"cifar10": [0, 1]})
        with self.assertRaisesRegex(
            DataError,
            r"needs 3 meta_test classes .* \(cifar10 has 2\): lower "
            r"num_classes \(--num_classes\) to 2 or less, hold out fewer",
        ):
            dist.meta_test  # noqa: B018

    def test_nothing_held_out_for_meta_test(self):
        dist = self._dist(["cifar10"], 3)
        with self.assertRaisesRegex(
            DataError,
            "The meta_test partition has no classes: give held_out_sources or "
            "held_out_classes",
        ):
            dist.meta_test  # noqa: B018

    def test_all_classes_of_a_source_with_one_class_left(self):
        dist = self._dist(
            ["cifar10"],
            None,
            held_out_classes={"cifar10": list(range(1, 10))},
            partition="meta_test",
        )
        self.assertLen(dist.sample(0).class_ids, 9)
        with self.assertRaisesRegex(
            DataError,
            r"num_classes=None needs 2 meta_train .*cifar10 has 1\): hold "
            "out fewer of their classes, or drop those datasets",
        ):
            dist.meta_train  # noqa: B018

    def test_everything_held_out(self):
        with self.assertRaisesRegex(DataError, "every class .* is held out"):
            self._dist(["cifar10"], 3, held_out_sources=["cifar10"])

    def test_too_few_examples_whichever_classes_are_drawn(self):
        config = TaskConfig(
            ImageSpec(16, 16, 3),
            train_split="test",
            train_per_class=1000,
            val_per_class=10,
        )
        dist = self._dist(["mnist"], 2, config=config)
        for index in range(3):
            with self.assertRaisesRegex(
                DataError,
                r"Class '0' \(id 0\) of mnist has 980 examples in split "
                r"'test', fewer than the 1010 a task needs",
            ):
                dist.sample(index)

    @parameterized.named_parameters(
        ("not_a_list", dict(sources="cifar10"), "non-empty list"),
        ("empty", dict(sources=[]), "non-empty list"),
        ("k_one", dict(num_classes=1), r"num_classes must be an int >= 2"),
        ("repeated", dict(sources=["mnist", "mnist"]), "distinct names"),
        ("weights_length", dict(weights=[1]), "weights has 1 entries for 2"),
        ("weights_negative", dict(weights=[1, -1]), "non-negative"),
        ("weights_zero", dict(weights=[0, 0]), "not all zero"),
        ("partition", dict(partition="val"), "partition must be one of"),
        ("seed", dict(seed=-1), "seed must be an int >= 0"),
        (
            "unknown_held_out",
            dict(held_out_sources=["svhn_cropped"]),
            r"Held-out source\(s\) \['svhn_cropped'\] are not among",
        ),
        (
            "held_out_twice",
            dict(
                held_out_sources=["mnist"], held_out_classes={"mnist": [0, 1]}
            ),
            "in both held_out_sources and held_out_classes",
        ),
        (
            "held_out_class",
            dict(held_out_classes={"cifar10": ["unicorn"]}),
            "cifar10 has no class named 'unicorn'",
        ),
        (
            "missing_split",
            dict(config=TaskConfig(train_split="validation")),
            "cifar10 has no split 'validation'",
        ),
    )
    def test_bad_arguments(self, kwargs, message):
        kwargs = {"sources": ["cifar10", "mnist"], "num_classes": 3, **kwargs}
        with self.assertRaisesRegex(DataError, message):
            self._dist(**kwargs)

    @parameterized.parameters(-1, 1.0, "0")
    def test_bad_index(self, index):
        dist = self._dist(["cifar10"], 2)
        with self.assertRaisesRegex(DataError, "index must be an int >= 0"):
            dist.sample(index)


if __name__ == "__main__":
    tf.test.main()
