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

    @parameterized.parameters(("darts", 3, False), ("nas_bench_201", 1, True))
    def test_sampled_ops_only_equal_the_mixture(self, space, cells, traced):
        # The whole network at one-hot z: values and the gradients of
        # theta, z's sampled entries and the images. Traced (as the inner
        # loop runs it), one trace serves every sample: nothing retraces.
        net = Supernet(space, channels=4, num_cells=cells, num_classes=3)
        theta, _, images = _inputs(net, 4, 8)
        rng = np.random.default_rng(4)

        def logits_and_grads(z, one_hot):
            with tf.GradientTape() as tape:
                tape.watch([theta, z, images])
                logits = net.apply(theta, z, images, one_hot)
                loss = tf.reduce_sum(logits * tf.range(1.0, 4.0))
            return (logits, *tape.gradient(loss, [theta, z, images]))

        sampled_fn = tf.function(
            lambda z: logits_and_grads(z, True), autograph=False
        )
        for _ in range(2 if traced else 1):
            z = tf.one_hot(
                rng.integers(len(net.space.ops), size=net.z_shape[:2]),
                len(net.space.ops),
            )
            mixed = logits_and_grads(z, False)
            sampled = sampled_fn(z) if traced else logits_and_grads(z, True)
            self.assertAllClose(sampled[0], mixed[0], atol=1e-4)
            self.assertAllClose(sampled[1], mixed[1], atol=1e-3)
            self.assertAllClose(sampled[2], mixed[2] * z, atol=1e-3)
            self.assertAllClose(sampled[3], mixed[3], atol=1e-3)
        if traced:
            self.assertEqual(sampled_fn.experimental_get_tracing_count(), 1)

    def test_rejects_odd_channels(self):
        with self.assertRaisesRegex(ValueError, "channels must be even"):
            Supernet("darts", channels=5)


if __name__ == "__main__":
    tf.test.main()
