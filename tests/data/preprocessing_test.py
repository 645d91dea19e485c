"""Tests for base_tf.data.preprocessing."""

import numpy as np
import tensorflow as tf
import tensorflow_datasets as tfds
from absl.testing import parameterized

from base_tf.data import DataError, ImageSpec, convert_images, to_float
from tests import tfds_testing


def _real_images(test_case, name, count=8):
    """The first `count` images of `name`'s test split, uint8 numpy."""
    tfds_testing.require_datasets(name)
    data = tfds.load(
        name,
        split=f"test[:{count}]",
        batch_size=-1,
        as_supervised=True,
        data_dir=tfds_testing.data_dir(),
        download=False,
    )
    return tfds.as_numpy(data)[0]


class ImageSpecTest(parameterized.TestCase, tf.test.TestCase):
    def test_defaults_to_32x32_rgb(self):
        self.assertEqual(ImageSpec().shape, (32, 32, 3))

    @parameterized.named_parameters(
        ("zero_height", dict(height=0), "height must be a positive int"),
        ("float_width", dict(width=16.0), "width must be a positive int"),
        ("bool_height", dict(height=True), "height must be a positive int"),
        ("two_channels", dict(channels=2), r"channels must be one of \(1, 3\)"),
    )
    def test_rejects_bad_values(self, kwargs, message):
        with self.assertRaisesRegex(DataError, message):
            ImageSpec(**kwargs)


class ConvertImagesTest(parameterized.TestCase, tf.test.TestCase):
    def test_grey_mnist_to_rgb_at_target_size(self):
        digits = _real_images(self, "mnist")  # [8, 28, 28, 1]
        converted = convert_images(digits, ImageSpec(32, 32, 3)).numpy()
        self.assertEqual(converted.shape, (8, 32, 32, 3))
        self.assertEqual(converted.dtype, np.uint8)
        # The grey value is repeated over the three channels.
        self.assertAllEqual(converted[..., 0], converted[..., 1])
        self.assertAllEqual(converted[..., 0], converted[..., 2])
        # Resizing keeps the picture: same mean brightness within 1%.
        self.assertAllClose(
            converted[..., 0].mean(axis=(1, 2)),
            digits[..., 0].mean(axis=(1, 2)),
            rtol=0.03,
        )

    def test_single_image_and_batch_agree(self):
        digits = _real_images(self, "mnist")
        spec = ImageSpec(16, 16, 3)
        batch = convert_images(digits, spec)
        single = convert_images(digits[3], spec)
        self.assertEqual(single.shape, (16, 16, 3))
        self.assertAllEqual(single, batch[3])

    def test_same_format_passes_through(self):
        images = _real_images(self, "cifar10")
        self.assertAllEqual(
            convert_images(images, ImageSpec(32, 32, 3)), images
        )

    def test_rgb_cifar_to_grey(self):
        images = _real_images(self, "cifar10")
        grey = convert_images(images, ImageSpec(32, 32, 1)).numpy()
        self.assertEqual(grey.shape, (8, 32, 32, 1))
        expected = tf.image.rgb_to_grayscale(tf.cast(images, tf.float32))
        self.assertAllClose(grey, expected, atol=0.51)

    def test_drops_alpha_channel(self):
        images = _real_images(self, "cifar10")
        alpha = np.full(images.shape[:-1] + (1,), 255, np.uint8)
        rgba = np.concatenate([images, alpha], axis=-1)
        self.assertAllEqual(convert_images(rgba, ImageSpec(32, 32, 3)), images)

    def test_rejects_unknown_channel_count(self):
        with self.assertRaisesRegex(DataError, "Cannot convert images with 5"):
            convert_images(np.zeros((4, 4, 5), np.uint8), ImageSpec())


class ToFloatTest(tf.test.TestCase):
    def test_maps_uint8_to_unit_interval(self):
        images = _real_images(self, "cifar10")
        floats = to_float(images)
        self.assertEqual(floats.dtype, tf.float32)
        self.assertAllClose(floats, images.astype(np.float32) / 255.0)
        self.assertAllInRange(floats, 0.0, 1.0)


if __name__ == "__main__":
    tf.test.main()
