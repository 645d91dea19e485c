"""Tests for the TFDS builder `tiny_imagenet` (base_tf.data.tiny_imagenet).

The builder runs on a small copy of the official layout made from real
files of the shared subset (its manual folder, as ../shared/data lays it
out): all 200 wnids with words.txt, two training images a class, one
validation image a class, and one grayscale JPEG, as about 2% of the
release are. The prepared shared subset itself is checked when present.
"""

import os
import shutil
import tempfile
import unittest
import zipfile

import numpy as np
import tensorflow as tf
import tensorflow_datasets as tfds

from base_tf import data
from base_tf.data import random_access, tiny_imagenet
from tests import tfds_testing

TRAIN_PER_CLASS = 2


def _shared_manual_folder():
    """The shared subset's tiny-imagenet-200 folder, or skips the test."""
    folder = os.path.join(
        tfds_testing.data_dir(), "downloads", "manual", tiny_imagenet.FOLDER
    )
    if not os.path.isfile(os.path.join(folder, "wnids.txt")):
        raise unittest.SkipTest(
            f"needs the Tiny-ImageNet files in {folder}: lay them out with "
            "`python ../shared/data/prepare_tfds.py --out "
            "~/tensorflow_datasets tiny_imagenet` or `tools/setup.sh`"
        )
    return folder


def _small_copy(shared, root):
    """Writes a small official layout into `root`/tiny-imagenet-200.

    Returns:
        `{file name: wnid}` of the validation images written.
    """
    out = os.path.join(root, tiny_imagenet.FOLDER)
    os.makedirs(os.path.join(out, "val", "images"))
    for name in ("wnids.txt", "words.txt"):
        shutil.copy(os.path.join(shared, name), out)
    with open(os.path.join(shared, "wnids.txt")) as f:
        wnids = [line.strip() for line in f if line.strip()]
    for wnid in wnids:
        images = os.path.join(out, "train", wnid, "images")
        os.makedirs(images)
        for i in range(TRAIN_PER_CLASS):
            name = f"{wnid}_{i}.JPEG"
            shutil.copy(
                os.path.join(shared, "train", wnid, "images", name), images
            )
    # One grayscale JPEG, as the release has: decoded as RGB.
    gray = tf.io.encode_jpeg(tf.fill([64, 64, 1], tf.constant(128, tf.uint8)))
    tf.io.write_file(
        os.path.join(out, "train", wnids[0], "images", f"{wnids[0]}_gray.JPEG"),
        gray,
    )
    # The first validation image of each class, annotations as released.
    val = {}
    with open(os.path.join(shared, "val", "val_annotations.txt")) as f:
        lines = [line for line in f if line.strip()]
    with open(os.path.join(out, "val", "val_annotations.txt"), "w") as f:
        for line in lines:
            file_name, wnid = line.split("\t")[:2]
            if wnid in val.values():
                continue
            val[file_name] = wnid
            f.write(line)
            shutil.copy(
                os.path.join(shared, "val", "images", file_name),
                os.path.join(out, "val", "images"),
            )
    return val


class TinyImagenetBuilderTest(tf.test.TestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        shared = _shared_manual_folder()
        cls._data_dir = tempfile.mkdtemp()
        manual = os.path.join(cls._data_dir, "downloads", "manual")
        cls._val = _small_copy(shared, manual)
        with open(os.path.join(shared, "wnids.txt")) as f:
            cls._wnids = sorted(line.strip() for line in f if line.strip())
        cls._builder = tiny_imagenet.prepare(cls._data_dir)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls._data_dir, ignore_errors=True)
        super().tearDownClass()

    def test_registered_with_tfds(self):
        self.assertIn(
            "tiny_imagenet", tfds.list_builders(with_community_datasets=False)
        )
        self.assertTrue(
            tfds.builder("tiny_imagenet", data_dir=self._data_dir).is_prepared()
        )

    def test_splits_and_counts(self):
        splits = self._builder.info.splits
        self.assertCountEqual(splits.keys(), ["train", "validation"])
        self.assertEqual(
            splits["train"].num_examples, 200 * TRAIN_PER_CLASS + 1
        )
        self.assertEqual(splits["validation"].num_examples, 200)

    def test_labels_follow_sorted_wnids_named_by_first_synonym(self):
        info = tfds.builder("tiny_imagenet", data_dir=self._data_dir).info
        names = info.features["label"].names
        self.assertLen(names, 200)
        self.assertLen(set(names), 200)
        self.assertEqual(info.metadata["wnids"], self._wnids)
        by_wnid = dict(zip(self._wnids, names, strict=True))
        self.assertEqual(by_wnid["n02124075"], "Egyptian_cat")
        self.assertEqual(by_wnid["n01443537"], "goldfish")
        self.assertEqual(by_wnid["n02099601"], "golden_retriever")
        for name in names:
            self.assertNotIn(" ", name)
            self.assertNotIn(",", name)

    def test_examples_are_64x64_rgb_uint8_with_their_wnid(self):
        ds = tfds.load(
            "tiny_imagenet",
            split="train",
            data_dir=self._data_dir,
            download=False,
        )
        wnids = self._builder.info.metadata["wnids"]
        seen = 0
        for example in tfds.as_numpy(ds):
            self.assertEqual(example["image"].shape, (64, 64, 3))
            self.assertEqual(example["image"].dtype, np.uint8)
            file_name = example["file_name"].decode()
            self.assertTrue(file_name.startswith(wnids[example["label"]] + "_"))
            if file_name.endswith("_gray.JPEG"):
                # Grayscale decodes to three equal channels.
                self.assertAllEqual(
                    example["image"][..., 0], example["image"][..., 2]
                )
            seen += 1
        self.assertEqual(seen, 200 * TRAIN_PER_CLASS + 1)

    def test_validation_labels_come_from_annotations(self):
        ds = tfds.load(
            "tiny_imagenet",
            split="validation",
            data_dir=self._data_dir,
            download=False,
        )
        wnids = self._builder.info.metadata["wnids"]
        found = {
            example["file_name"].decode(): wnids[example["label"]]
            for example in tfds.as_numpy(ds)
        }
        self.assertEqual(found, self._val)

    def test_load_source_serves_it(self):
        source = data.load_source("tiny_imagenet", data_dir=self._data_dir)
        self.assertIsInstance(source, data.TfdsSource)
        self.assertEqual(source.num_classes, 200)
        self.assertCountEqual(source.splits, ["train", "validation"])
        split = source.materialize("validation", data.ImageSpec(32, 32, 3))
        self.assertEqual(split.images.shape, (200, 32, 32, 3))
        self.assertEqual(split.class_counts(), [1] * 200)


class RandomAccessTest(tf.test.TestCase):
    """Tasks read through TFDS's random access equal tasks drawn in memory."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        shared = _shared_manual_folder()
        cls._data_dir = tempfile.mkdtemp()
        _small_copy(shared, os.path.join(cls._data_dir, "downloads", "manual"))
        cls._builder = tiny_imagenet.prepare(cls._data_dir)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls._data_dir, ignore_errors=True)
        super().tearDownClass()

    def _source(self, random_access):
        return data.TfdsSource(
            "tiny_imagenet",
            data_dir=self._data_dir,
            random_access=random_access,
        )

    def test_prepare_adds_array_record_beside_tfrecord(self):
        builder = tfds.builder("tiny_imagenet", data_dir=self._data_dir)
        self.assertTrue(random_access.has_array_record(builder))
        self.assertEqual(
            builder.info.file_format, tfds.core.FileFormat.TFRECORD
        )
        source = random_access.data_source(builder, "validation")
        self.assertLen(source, 200)
        labels = np.load(random_access.label_index_path(builder, "validation"))
        self.assertEqual(sorted(labels.tolist()), list(range(200)))

    def test_random_access_task_equals_in_memory_task(self):
        config = data.TaskConfig(
            data.ImageSpec(32, 32, 3),
            val_split="validation",
            train_per_class=2,
            val_per_class=1,
        )
        classes = [0, 57, 199]
        lazy = data.make_task(self._source(True), classes, config, seed=3)
        eager = data.make_task(self._source(False), classes, config, seed=3)
        self.assertAllEqual(lazy.train_indices, eager.train_indices)
        self.assertAllEqual(lazy.train_labels, eager.train_labels)
        self.assertAllEqual(lazy.train_images, eager.train_images)
        self.assertAllEqual(lazy.val_images, eager.val_images)
        self.assertEqual(lazy.train_images.shape, (6, 32, 32, 3))
        self.assertEqual(lazy.train_images.dtype, np.uint8)

    def test_random_access_split_holds_labels_only(self):
        split = self._source(True).task_split(
            "train", data.ImageSpec(64, 64, 3)
        )
        self.assertIsInstance(split, random_access.RandomAccessSplit)
        self.assertEqual(split.num_examples, 200 * TRAIN_PER_CLASS + 1)
        self.assertEqual(split.images[[3, 3, 0]].shape, (3, 64, 64, 3))
        self.assertAllEqual(split.images[[3]][0], split.images[[3, 0]][0])

    def test_default_reads_randomly_only_past_the_memory_limit(self):
        source = data.load_source("tiny_imagenet", data_dir=self._data_dir)
        self.assertFalse(source.reads_randomly("train", data.ImageSpec()))
        self.assertIsInstance(
            source.task_split("train", data.ImageSpec()), data.MaterializedSplit
        )
        limit = data.tfds_source.IN_MEMORY_LIMIT_BYTES
        try:
            data.tfds_source.IN_MEMORY_LIMIT_BYTES = 1000
            self.assertTrue(source.reads_randomly("train", data.ImageSpec()))
        finally:
            data.tfds_source.IN_MEMORY_LIMIT_BYTES = limit

    def test_random_access_needs_array_record(self):
        tfds_testing.require_datasets("mnist")
        with self.assertRaisesRegex(data.DataError, "ArrayRecord"):
            data.TfdsSource(
                "mnist", data_dir=tfds_testing.data_dir(), random_access=True
            )


class TinyImagenetZipTest(tf.test.TestCase):
    def test_prepares_from_the_official_zip(self):
        shared = _shared_manual_folder()
        data_dir = self.get_temp_dir()
        manual = os.path.join(data_dir, "downloads", "manual")
        work = tempfile.mkdtemp(dir=data_dir)
        _small_copy(shared, work)
        os.makedirs(manual)
        with zipfile.ZipFile(os.path.join(manual, tiny_imagenet.ZIP), "w") as z:
            for folder, _, files in os.walk(work):
                for name in files:
                    path = os.path.join(folder, name)
                    z.write(path, os.path.relpath(path, work))
        shutil.rmtree(work)
        builder = tiny_imagenet.prepare(data_dir)
        self.assertEqual(builder.info.splits["validation"].num_examples, 200)

    def test_missing_files_name_the_manual_folder(self):
        data_dir = self.get_temp_dir()
        os.makedirs(os.path.join(data_dir, "downloads", "manual", "other"))
        with self.assertRaisesRegex(Exception, "tiny-imagenet-200"):
            tiny_imagenet.prepare(data_dir)


class ClassNamesTest(tf.test.TestCase):
    def test_first_synonym_with_underscores(self):
        self.assertEqual(
            tiny_imagenet.class_names(
                ["n1", "n2"], {"n1": "CD player", "n2": "acorn, nut"}
            ),
            ["CD_player", "acorn"],
        )

    def test_shared_first_synonym_is_suffixed_with_wnid(self):
        self.assertEqual(
            tiny_imagenet.class_names(
                ["n1", "n2", "n3"],
                {"n1": "crane", "n2": "crane, bird", "n3": "lift"},
            ),
            ["crane_n1", "crane_n2", "lift"],
        )


class PreparedSharedSubsetTest(tf.test.TestCase):
    """The shared subset as tools/setup.sh prepares it."""

    def test_every_class_has_its_examples(self):
        tfds_testing.require_datasets("tiny_imagenet")
        source = data.load_source(
            "tiny_imagenet", data_dir=tfds_testing.data_dir()
        )
        self.assertEqual(source.num_classes, 200)
        self.assertIn("Egyptian_cat", source.class_names)
        validation = source.materialize("validation", data.ImageSpec(64, 64, 3))
        self.assertEqual(validation.images.shape[1:], (64, 64, 3))
        self.assertEqual(validation.class_counts(), [50] * 200)
        train = source.num_examples("train")
        self.assertEqual(train % 200, 0)  # 150 a class here, 500 in full.


if __name__ == "__main__":
    tf.test.main()
