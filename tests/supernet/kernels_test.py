"""The supernet's fused kernels equal the plain ops they stand for."""

import numpy as np
import tensorflow as tf
from absl.testing import parameterized

from base_tf.search_space import operations
from base_tf.supernet import kernels


def _edge_block(kernel, j, width):
    """Output-channel block j of a grouped kernel `[..., G * width]`."""
    return kernel[..., j * width : (j + 1) * width]


class KernelsTest(tf.test.TestCase, parameterized.TestCase):
    @parameterized.parameters((8, 1), (7, 1), (8, 2), (9, 3))
    def test_factorized_reduce_equals_two_offset_convs(self, size, groups):
        # Each group (edge) against the Keras FactorizedReduce's two convs.
        c_in, half = 4, 3
        rng = np.random.default_rng(size)
        x = tf.constant(
            rng.normal(size=[2, size, size, groups * c_in]), tf.float32
        )
        even = tf.constant(
            rng.normal(size=[1, 1, c_in, groups * half]), tf.float32
        )
        odd = tf.constant(
            rng.normal(size=[1, 1, c_in, groups * half]), tf.float32
        )
        fused = kernels.factorized_reduce(x, even, odd, groups)
        reduced = (size + 1) // 2
        self.assertEqual(fused.shape, [2, reduced, reduced, groups * 2 * half])
        for j in range(groups):
            layer = operations.FactorizedReduce(2 * half, affine=False)
            layer.build([2, size, size, c_in])
            layer.conv_even.kernel.assign(_edge_block(even, j, half))
            layer.conv_odd.kernel.assign(_edge_block(odd, j, half))
            x_j = _edge_block(x, j, c_in)
            # The layer's convs without its ReLU and batch norm: apply them
            # as the layer does, to the even and the shifted pixels.
            shifted = tf.pad(
                x_j[:, 1:, 1:, :],
                [[0, 0], [0, size % 2], [0, size % 2], [0, 0]],
            )
            expected = tf.concat(
                [layer.conv_even(x_j), layer.conv_odd(shifted)], -1
            )
            self.assertAllClose(
                _edge_block(fused, j, 2 * half), expected, atol=1e-5
            )

    @parameterized.parameters(
        # (kernel size, stride, groups, size): the pointwise convs of a
        # node's edges, NAS-Bench-201's 3x3 convs, a factorized reduction.
        (1, 1, 1, 6),
        (1, 1, 4, 6),
        (3, 1, 3, 5),
        (3, 2, 2, 7),
        (2, 2, 2, 8),
    )
    def test_grouped_conv2d_equals_block_diagonal_conv(
        self, kernel_size, stride, groups, size
    ):
        # The same map as one plain conv whose kernel is block-diagonal over
        # the groups: values and gradients in the input and in the kernel.
        c_in, c_out = 3, 2
        rng = np.random.default_rng(kernel_size * 10 + groups)
        x = tf.constant(
            rng.normal(size=[2, size, size, groups * c_in]), tf.float32
        )
        kernel = tf.constant(
            rng.normal(size=[kernel_size, kernel_size, c_in, groups * c_out]),
            tf.float32,
        )
        mask = np.kron(np.eye(groups), np.ones([c_in, c_out]))
        with tf.GradientTape(persistent=True) as tape:
            tape.watch([x, kernel])
            grouped = kernels.grouped_conv2d(x, kernel, stride)
            dense = tf.nn.conv2d(
                x, tf.tile(kernel, [1, 1, groups, 1]) * mask, stride, "SAME"
            )
            probe = tf.constant(rng.normal(size=dense.shape), tf.float32)
            grouped_loss = tf.reduce_sum(grouped * probe)
            dense_loss = tf.reduce_sum(dense * probe)
        self.assertEqual(grouped.shape, dense.shape)
        self.assertAllClose(grouped, dense, atol=1e-4)
        for a, b in zip(
            tape.gradient(grouped_loss, [x, kernel]),
            tape.gradient(dense_loss, [x, kernel]),
            strict=True,
        ):
            self.assertAllClose(a, b, atol=1e-4)


if __name__ == "__main__":
    tf.test.main()
