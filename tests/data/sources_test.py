"""Tests for the dataset sources, on the real datasets and real images.

Covers `base_tf.data.sources` (`load_source`), `base_source`,
`tfds_source` and `image_folder_source`.
"""

import os
import pathlib
import tempfile

import numpy as np
import tensorflow as tf
import tensorflow_datasets as tfds
from absl.testing import parameterized

from base_tf import data
from base_tf.data import DataError, ImageSpec
from tests import tfds_testing

SPEC = ImageSpec(16, 16, 3)


def _raw(test_case, name, split="test"):
    """`name`'s split as TFDS serves it: uint8 images and int labels."""
    tfds_testing.require_datasets(name)
    images, labels = tfds.as_numpy(
        tfds.load(
            name,
            split=split,
            batch_size=-1,
            as_supervised=True,
            data_dir=tfds_testing.data_dir(),
            download=False,
        )
    )
    return images, labels


def _write_images(root, layout, fmt="png"):
    """Writes `{split: {class: [uint8 image, ...]}}` as image files."""
    encode = tf.io.encode_png if fmt == "png" else tf.io.encode_jpeg
    for split, classes in layout.items():
        for class_name, images in classes.items():
            folder = os.path.join(root, split, class_name)
            os.makedirs(folder, exist_ok=True)
            for i, image in enumerate(images):
                path = os.path.join(folder, f"{i:04d}.{fmt}")
                tf.io.write_file(path, encode(image))


def _new_dir(test_case):
    """A fresh empty folder (works under pytest and `python x_test.py`)."""
    return tempfile.mkdtemp(dir=test_case.get_temp_dir())


def _sorted_rows(images):
    flat = images.reshape(len(images), -1)
    return flat[np.lexsort(flat.T[::-1])]


class TfdsSourceTest(parameterized.TestCase, tf.test.TestCase):
    @parameterized.parameters(
        ("cifar10", "airplane"),
        ("mnist", "0"),
        ("fashion_mnist", "T-shirt/top"),
    )
    def test_knows_name_classes_and_splits(self, name, first_class):
        tfds_testing.require_datasets(name)
        source = data.load_source(name, data_dir=tfds_testing.data_dir())
        self.assertIsInstance(source, data.TfdsSource)
        self.assertEqual(source.name, name)
        self.assertEqual(source.num_classes, 10)
        self.assertEqual(source.class_names[0], first_class)
        self.assertCountEqual(source.splits, ["train", "test"])
        self.assertEqual(source.num_examples("test"), 10_000)

    @parameterized.parameters("cifar10", "mnist", "fashion_mnist")
    def test_materializes_split_at_spec_with_class_index(self, name):
        raw_images, raw_labels = _raw(self, name)
        source = data.load_source(name, data_dir=tfds_testing.data_dir())
        split = source.materialize("test", SPEC)
        self.assertEqual(split.images.shape, (10_000, 16, 16, 3))
        self.assertEqual(split.images.dtype, np.uint8)
        # Same examples in TFDS's order, converted one by one.
        self.assertAllEqual(split.labels, raw_labels)
        self.assertAllEqual(
            split.images[:50], data.convert_images(raw_images[:50], SPEC)
        )
        self.assertEqual(sum(split.class_counts()), 10_000)
        for class_id, indices in enumerate(split.class_indices):
            self.assertAllEqual(indices, np.flatnonzero(raw_labels == class_id))
        self.assertFalse(split.images.flags.writeable)

    def test_grey_dataset_becomes_rgb(self):
        tfds_testing.require_datasets("mnist")
        source = data.load_source("mnist", data_dir=tfds_testing.data_dir())
        images = source.materialize("test", SPEC).images
        self.assertAllEqual(images[..., 0], images[..., 1])
        self.assertAllEqual(images[..., 1], images[..., 2])
        self.assertGreater(images.max(), 200)  # Real digits, not blanks.

    def test_native_format_is_kept_exactly(self):
        raw_images, _ = _raw(self, "mnist")
        source = data.load_source("mnist", data_dir=tfds_testing.data_dir())
        split = source.materialize("test", ImageSpec(28, 28, 1))
        self.assertAllEqual(split.images, raw_images)

    def test_a_split_is_read_once_per_process(self):
        tfds_testing.require_datasets("mnist")
        first = data.load_source("mnist", data_dir=tfds_testing.data_dir())
        again = data.load_source("mnist", data_dir=tfds_testing.data_dir())
        self.assertIsNot(first, again)
        self.assertIs(
            first.materialize("test", SPEC), again.materialize("test", SPEC)
        )
        self.assertIsNot(
            first.materialize("test", SPEC),
            first.materialize("test", ImageSpec(8, 8, 3)),
        )

    def test_class_id_by_id_or_name(self):
        tfds_testing.require_datasets("cifar10")
        source = data.load_source("cifar10", data_dir=tfds_testing.data_dir())
        self.assertEqual(source.class_id("truck"), 9)
        self.assertEqual(source.class_id(np.int64(3)), 3)
        with self.assertRaisesRegex(DataError, "no class named 'lorry'"):
            source.class_id("lorry")
        with self.assertRaisesRegex(DataError, "Class id 10 is out of range"):
            source.class_id(10)

    def test_unknown_split(self):
        tfds_testing.require_datasets("cifar10")
        source = data.load_source("cifar10", data_dir=tfds_testing.data_dir())
        with self.assertRaisesRegex(
            DataError, r"cifar10 has no split 'validation'; its splits are"
        ):
            source.materialize("validation", SPEC)


class TfdsSourceErrorTest(parameterized.TestCase, tf.test.TestCase):
    @parameterized.parameters(
        ("cifar1O", "'cifar10'"),
        ("mnsit", "'mnist'"),
        ("fashion-mnist", "'fashion_mnist'"),
    )
    def test_unknown_name_suggests_close_names(self, name, suggestion):
        with self.assertRaisesRegex(
            DataError,
            rf"Unknown TFDS dataset '{name}'\. Did you mean .*{suggestion}.*"
            r"tfds\.list_builders\(\)",
        ):
            data.load_source(name)

    def test_not_prepared_says_how_to_prepare(self):
        empty = _new_dir(self)
        with self.assertRaisesRegex(
            DataError,
            r"'cifar10' is not prepared in .* never downloads.*data_dir "
            r"\(--data_dir, or TFDS_DATA_DIR\).*"
            r"python \.\./shared/data/prepare_tfds\.py --out "
            r"~/tensorflow_datasets",
        ):
            data.load_source("cifar10", data_dir=empty)
        self.assertEqual(os.listdir(empty), [])  # Nothing was downloaded.

    def test_not_an_image_classification_dataset(self):
        with self.assertRaisesRegex(
            DataError, "'imdb_reviews' is not an image-classification dataset"
        ):
            data.load_source("imdb_reviews")

    @parameterized.parameters("", 3, None)
    def test_bad_spec(self, spec):
        with self.assertRaisesRegex(DataError, "TFDS name|non-empty str"):
            data.load_source(spec)


class ImageFolderSourceTest(parameterized.TestCase, tf.test.TestCase):
    def _digits_folder(self):
        """root/{train,test}/{zero,one,two}/*.png of real MNIST digits."""
        images, labels = _raw(self, "mnist")
        names = {0: "zero", 1: "one", 2: "two"}
        layout = {"train": {}, "test": {}}
        for label, class_name in names.items():
            digits = images[labels == label]
            layout["train"][class_name] = digits[:12]
            layout["test"][class_name] = digits[12:17]
        root = os.path.join(_new_dir(self), "digits")
        _write_images(root, layout)
        return root, layout

    def test_reads_real_pngs_in_split_and_class_folders(self):
        root, layout = self._digits_folder()
        source = data.load_source(root)
        self.assertIsInstance(source, data.ImageFolderSource)
        self.assertEqual(source.name, "digits")
        self.assertEqual(source.class_names, ("one", "two", "zero"))
        self.assertCountEqual(source.splits, ["train", "test"])
        self.assertEqual(source.num_examples("train"), 36)
        split = source.materialize("train", SPEC)
        self.assertEqual(split.images.shape, (36, 16, 16, 3))
        self.assertEqual(split.class_counts(), [12, 12, 12])
        for class_id, class_name in enumerate(source.class_names):
            expected = data.convert_images(layout["train"][class_name], SPEC)
            got = split.images[split.class_indices[class_id]]
            # PNG is lossless: the same images, in the folder's own order.
            self.assertAllEqual(
                _sorted_rows(got), _sorted_rows(expected.numpy())
            )

    def test_accepts_a_pathlib_path(self):
        root, _ = self._digits_folder()
        source = data.load_source(pathlib.Path(root))
        self.assertEqual(source.root, root)

    def test_reads_jpegs_of_any_size(self):
        images, labels = _raw(self, "cifar10")
        layout = {
            "train": {
                "cat": images[labels == 3][:4],
                "ship": images[labels == 8][:4],
            }
        }
        root = _new_dir(self)
        _write_images(root, layout, fmt="jpg")
        source = data.load_source(root)
        split = source.materialize("train", ImageSpec(32, 32, 3))
        self.assertEqual(source.class_names, ("cat", "ship"))
        for class_id, class_name in enumerate(source.class_names):
            originals = layout["train"][class_name].astype(np.float32)
            for image in split.images[split.class_indices[class_id]]:
                # JPEG is lossy: each image is close to one original.
                errors = np.abs(originals - image).mean(axis=(1, 2, 3))
                self.assertLess(errors.min(), 6.0)

    def test_class_folder_without_images_is_a_class_without_examples(self):
        root, _ = self._digits_folder()
        os.makedirs(os.path.join(root, "test", "three"))
        source = data.ImageFolderSource(root, name="digits4")
        self.assertEqual(source.name, "digits4")
        self.assertEqual(source.class_names, ("one", "three", "two", "zero"))
        split = source.materialize("test", SPEC)
        self.assertEqual(split.class_counts(), [5, 0, 5, 5])
        # Label ids are the same in every split.
        self.assertEqual(
            source.materialize("train", SPEC).class_counts(), [12, 0, 12, 12]
        )


class ImageFolderSourceErrorTest(parameterized.TestCase, tf.test.TestCase):
    def test_path_that_does_not_exist(self):
        missing = os.path.join(_new_dir(self), "nowhere")
        with self.assertRaisesRegex(
            DataError, rf"No such folder: {missing}\. .*root/<split>/<class>"
        ):
            data.load_source(missing)

    def test_file_instead_of_folder(self):
        path = os.path.join(_new_dir(self), "notes.txt")
        tf.io.write_file(path, "not a folder")
        with self.assertRaisesRegex(DataError, "is a file, not a folder"):
            data.load_source(path)

    def test_empty_folder(self):
        root = _new_dir(self)
        with self.assertRaisesRegex(DataError, rf"Folder {root} is empty"):
            data.load_source(root)

    def test_images_directly_in_root(self):
        digits, _ = _raw(self, "mnist")
        root = _new_dir(self)
        tf.io.write_file(
            os.path.join(root, "a.png"), tf.io.encode_png(digits[0])
        )
        with self.assertRaisesRegex(
            DataError, "holds images directly; move them into split and class"
        ):
            data.load_source(root)

    def test_class_folders_without_split_folder(self):
        digits, labels = _raw(self, "mnist")
        root = _new_dir(self)
        # root/<class>/<image>: the split level is missing.
        os.makedirs(os.path.join(root, "zero"))
        for i, digit in enumerate(digits[labels == 0][:2]):
            path = os.path.join(root, "zero", f"{i}.png")
            tf.io.write_file(path, tf.io.encode_png(digit))
        with self.assertRaisesRegex(
            DataError,
            r"has no class sub-folders: \['zero'\] hold images directly.*"
            r"train/zero/",
        ):
            data.load_source(root)

    def test_folders_without_images(self):
        root = _new_dir(self)
        os.makedirs(os.path.join(root, "train", "cat"))
        os.makedirs(os.path.join(root, "test"))
        with self.assertRaisesRegex(
            DataError, "holds no .png/.jpg/.jpeg images"
        ):
            data.load_source(root)

    def test_unreadable_image_is_named(self):
        digits, labels = _raw(self, "mnist")
        root = _new_dir(self)
        _write_images(root, {"train": {"zero": digits[labels == 0][:3]}})
        broken = os.path.join(root, "train", "zero", "broken.png")
        tf.io.write_file(broken, "this is not a PNG")
        source = data.load_source(root)
        with self.assertRaisesRegex(
            DataError,
            rf"Could not read split 'train' .*{broken} is not a valid image",
        ):
            source.materialize("train", SPEC)

    def test_data_dir_with_a_path(self):
        root = _new_dir(self)
        with self.assertRaisesRegex(
            DataError, "data_dir applies to TFDS names"
        ):
            data.load_source(root, data_dir=root)


if __name__ == "__main__":
    tf.test.main()
