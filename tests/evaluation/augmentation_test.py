"""Pad-crop-flip and cutout: what they do, and determinism for a seed."""

import numpy as np
import tensorflow as tf
from absl.testing import parameterized

from base_tf import evaluation


def batch(n=16, size=8, channels=2):
    values = np.arange(n * size * size * channels, dtype=np.float32)
    return values.reshape(n, size, size, channels) + 1.0


class AugmentationTest(tf.test.TestCase, parameterized.TestCase):
    @parameterized.parameters(
        (4, 32, 4), (4, 16, 2), (4, 8, 1), (16, 32, 16), (16, 16, 8),
        (16, 8, 4), (0, 16, 0), (4, 28, 4),
    )  # fmt: skip
    def test_scaled(self, length, size, expected):
        self.assertEqual(evaluation.scaled(length, size), expected)

    def test_crop_flip_gives_shifted_windows_of_the_padded_image(self):
        x = batch()
        layer = evaluation.RandomCropFlip(2)
        y = layer(x, tf.constant([3, 4])).numpy()
        padded = np.pad(x, [(0, 0), (2, 2), (2, 2), (0, 0)])
        offsets, flips = set(), 0
        for n in range(len(x)):
            found = [
                (oy, ox, flip)
                for oy in range(5)
                for ox in range(5)
                for flip in (False, True)
                if np.array_equal(
                    y[n],
                    (
                        padded[n, oy : oy + 8, ox : ox + 8][:, ::-1]
                        if flip
                        else padded[n, oy : oy + 8, ox : ox + 8]
                    ),
                )
            ]
            self.assertLen(found, 1)
            offsets.add(found[0][:2])
            flips += found[0][2]
        self.assertGreater(len(offsets), 4)  # Offsets vary per example.
        self.assertBetween(flips, 1, len(x) - 1)

    def test_cutout_fills_one_clipped_square(self):
        x = batch(n=64)
        fill = [-1.0, -2.0]
        y = evaluation.Cutout(4, fill=fill)(x, tf.constant([0, 7])).numpy()
        for n in range(len(x)):
            changed = np.any(y[n] != x[n], axis=-1)
            rows, cols = np.nonzero(changed)
            self.assertGreater(len(rows), 0)
            # A rectangle of side <= 4, fully filled with the fill values.
            self.assertLessEqual(rows.max() - rows.min() + 1, 4)
            self.assertLessEqual(cols.max() - cols.min() + 1, 4)
            self.assertEqual(
                len(rows),
                (rows.max() - rows.min() + 1) * (cols.max() - cols.min() + 1),
            )
            self.assertAllEqual(y[n][changed], np.tile(fill, (len(rows), 1)))
        full = [np.sum(np.any(y[n] != x[n], axis=-1)) == 16 for n in range(64)]
        self.assertTrue(any(full))  # Unclipped squares are 4x4.

    def test_deterministic_for_a_seed(self):
        x = batch()
        for layer in (evaluation.RandomCropFlip(2), evaluation.Cutout(4)):
            a = layer(x, tf.constant([1, 2]))
            self.assertAllEqual(a, layer(x, tf.constant([1, 2])))
            self.assertNotAllEqual(a, layer(x, tf.constant([1, 3])))

    def test_off(self):
        x = batch()
        seed = tf.constant([1, 2])
        self.assertAllEqual(evaluation.Cutout(0)(x, seed), x)
        self.assertAllEqual(
            evaluation.RandomCropFlip(0, flip=False)(x, seed), x
        )

    def test_bad_arguments(self):
        with self.assertRaisesRegex(ValueError, "padding"):
            evaluation.RandomCropFlip(-1)
        with self.assertRaisesRegex(ValueError, "length"):
            evaluation.Cutout((4, 4, 4))
        with self.assertRaisesRegex(ValueError, "shape \\[2\\]"):
            evaluation.Cutout(4)(batch(), tf.constant([1, 2, 3]))

    def test_config_round_trip(self):
        layer = evaluation.Cutout((4, 6), fill=[0.5, 0.25])
        clone = evaluation.Cutout.from_config(layer.get_config())
        self.assertEqual(clone.length, (4, 6))
        self.assertEqual(clone.fill, [0.5, 0.25])


if __name__ == "__main__":
    tf.test.main()
