"""The supernet f(x; theta, z) as a whole: shapes, sizes, gradients."""

import numpy as np
import tensorflow as tf
from absl.testing import parameterized

from base_tf.supernet import Supernet


def _inputs(net, batch, size, seed=0):
    rng = np.random.default_rng(seed)
    theta = tf.constant(net.layout.initial_values(seed))
    z = tf.nn.softmax(tf.constant(rng.normal(size=net.z_shape), tf.float32))
    images = tf.constant(
        rng.uniform(size=[batch, size, size, net.image_channels]), tf.float32
    )
    return theta, z, images


class SupernetTest(tf.test.TestCase, parameterized.TestCase):
    @parameterized.named_parameters(
        # 3 DARTS cells: reductions at cells 1 and 2, so cell 2 also
        # preprocesses its first input with a factorized reduction.
        ("darts_even", "darts", 3, 8),
        ("darts_odd", "darts", 3, 9),
        ("nas_bench_201", "nas_bench_201", 1, 8),
    )
    def test_logits_for_any_batch_size(self, space, num_cells, size):
        net = Supernet(space, channels=4, num_cells=num_cells, num_classes=3)
        theta, z, images = _inputs(net, 3, size)
        # Traced once for an unknown batch size, then run on two sizes.
        apply = tf.function(
            lambda x: net.apply(theta, z, x),
            input_signature=[tf.TensorSpec([None, size, size, 3])],
            autograph=False,
        )
        logits = apply(images)
        self.assertEqual(logits.shape, [3, 3])
        self.assertAllEqual(tf.math.is_finite(logits), tf.ones([3, 3], bool))
        # Batch statistics: an example's logits depend on its batch, but a
        # batch of one copy of each example twice gives the same logits.
        doubled = apply(tf.concat([images, images], 0))
        self.assertAllClose(doubled[:3], logits, atol=1e-4)
        self.assertAllClose(doubled[3:], logits, atol=1e-4)

    def test_rejects_odd_channels(self):
        with self.assertRaisesRegex(ValueError, "channels must be even"):
            Supernet("darts", channels=5)


if __name__ == "__main__":
    tf.test.main()
