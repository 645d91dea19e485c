"""The fused mixed node equals the op-by-op sum of the Keras op layers."""

import numpy as np
import tensorflow as tf
from absl.testing import parameterized

from base_tf import search_space
from base_tf.search_space import operations
from base_tf.supernet import mixed_op
from base_tf.supernet.parameters import ParameterLayout

C = 4


def _edge_block(kernel, j, width):
    """Output-channel block j of a grouped kernel `[..., G * width]`."""
    return kernel[..., j * width : (j + 1) * width]


def _reference_node(node, params, states, z, space):
    """sum_e sum_o z[e, o] * op_o(x_e), each op a Keras layer of `operations`
    with the fused node's weights copied in, BN in training mode."""
    total = 0.0
    for group in node.groups:
        num_dw = len(group.sep) + len(group.dil)
        m = len(group.edges)
        for j, (e, i) in enumerate(
            zip(group.edges, group.sources, strict=True)
        ):
            x = states[i]
            for o, name in enumerate(space.ops):
                if name == "none":
                    continue
                layer = operations.OPS[name](C, group.stride, False)
                layer.build(x.shape)
                kind = mixed_op.op_kind(name)
                if kind.family == "sep":
                    p = [q for q, _ in group.sep].index(o)
                    dw1 = params[group.w[f"dw1_{o}"]]
                    dw2 = params[group.w[f"dw2_{o}"]]
                    layer.depthwise_1.kernel.assign(
                        _edge_block(dw1[..., 0], j, C)[..., None]
                    )
                    layer.pointwise_1.kernel.assign(
                        _edge_block(params[group.w["pw1"]], p * m + j, C)
                    )
                    layer.depthwise_2.kernel.assign(
                        _edge_block(dw2[..., 0], j, C)[..., None]
                    )
                    layer.pointwise_2.kernel.assign(
                        _edge_block(params[group.w["pw2"]], p * m + j, C)
                    )
                elif kind.family == "dil":
                    p = len(group.sep) + [q for q, _ in group.dil].index(o)
                    assert p < num_dw
                    dw1 = params[group.w[f"dw1_{o}"]]
                    layer.depthwise.kernel.assign(
                        _edge_block(dw1[..., 0], j, C)[..., None]
                    )
                    layer.pointwise.kernel.assign(
                        _edge_block(params[group.w["pw1"]], p * m + j, C)
                    )
                elif kind.family == "nor":
                    layer.conv.kernel.assign(
                        _edge_block(params[group.w[f"nor_{o}"]], j, C)
                    )
                elif kind.family == "skip" and group.stride == 2:
                    layer.conv_even.kernel.assign(
                        _edge_block(params[group.w["fr_a"]], j, C // 2)
                    )
                    layer.conv_odd.kernel.assign(
                        _edge_block(params[group.w["fr_b"]], j, C // 2)
                    )
                y = layer(x, training=True)
                if "pool" in kind.family and space.pool_batch_norm:
                    mean, var = tf.nn.moments(y, [0, 1, 2])
                    y = (y - mean) / tf.sqrt(var + mixed_op.BN_EPSILON)
                total += z[e, o] * y
    return total


class MixedNodeTest(tf.test.TestCase, parameterized.TestCase):
    @parameterized.named_parameters(
        # DARTS normal cell, node 3: edges from 0, 1, 2, all stride 1.
        ("darts_normal", "darts", 3, False, 8),
        # DARTS reduction cell, node 3: 0, 1 at stride 2, 2 at stride 1.
        ("darts_reduce", "darts", 3, True, 8),
        ("darts_reduce_odd_size", "darts", 2, True, 7),
        ("nas_bench_201", "nas_bench_201", 3, False, 6),
    )
    def test_equals_op_by_op_sum(self, space_name, node_index, reduction, size):
        space = search_space.get_space(space_name)
        in_edges = [
            (e, i, 2 if reduction and i < space.num_input_nodes else 1)
            for e, (i, k) in enumerate(space.edges)
            if k == node_index
        ]
        layout = ParameterLayout()
        node = mixed_op.MixedNode(
            layout, "node", space.ops, in_edges, C, space.pool_batch_norm
        )
        params = layout.unflatten(tf.constant(layout.initial_values(0)))
        rng = np.random.default_rng(1)
        reduced = (size + 1) // 2
        states = [
            tf.constant(
                rng.normal(
                    size=[
                        3,
                        reduced
                        if reduction and i >= space.num_input_nodes
                        else size,
                        reduced
                        if reduction and i >= space.num_input_nodes
                        else size,
                        C,
                    ]
                ),
                tf.float32,
            )
            for i in range(node_index)
        ]
        z = tf.nn.softmax(
            tf.constant(
                rng.normal(size=[len(space.edges), len(space.ops)]), tf.float32
            )
        )
        with tf.GradientTape(persistent=True) as tape:
            tape.watch([z, states])
            fused = node(params, states, z)
            reference = _reference_node(node, params, states, z, space)
            # A fixed random projection, so that the gradients are not
            # those of a plain sum (which batch norm would make ~zero).
            probe = tf.constant(rng.normal(size=fused.shape), tf.float32)
            fused_loss = tf.reduce_sum(fused * probe)
            reference_loss = tf.reduce_sum(reference * probe)
        self.assertEqual(fused.shape, reference.shape)
        self.assertAllClose(fused, reference, atol=1e-4, rtol=1e-4)
        # The weights z reach the fused node through batch-norm scales;
        # their gradient and the inputs' must equal the op-by-op sum's.
        self.assertAllClose(
            tape.gradient(fused_loss, z),
            tape.gradient(reference_loss, z),
            atol=1e-3,
            rtol=1e-3,
        )
        for fused_grad, reference_grad in zip(
            tape.gradient(fused_loss, states),
            tape.gradient(reference_loss, states),
            strict=True,
        ):
            self.assertAllClose(
                fused_grad, reference_grad, atol=1e-3, rtol=1e-3
            )

    def test_one_hot_z_selects_one_op(self):
        space = search_space.get_space("darts")
        in_edges = [(0, 0, 1), (1, 1, 1)]
        layout = ParameterLayout()
        node = mixed_op.MixedNode(
            layout, "n", space.ops, in_edges, C, space.pool_batch_norm
        )
        params = layout.unflatten(tf.constant(layout.initial_values(3)))
        x0 = tf.random.stateless_normal([2, 5, 5, C], seed=[1, 2])
        x1 = tf.random.stateless_normal([2, 5, 5, C], seed=[3, 4])
        z = np.zeros([len(space.edges), len(space.ops)], np.float32)
        z[0, space.ops.index("skip_connect")] = 1.0
        z[1, space.ops.index("none")] = 1.0
        self.assertAllClose(
            node(params, [x0, x1], tf.constant(z)), x0, atol=1e-6
        )

    @parameterized.parameters(("nas_bench_201", False), ("darts", True))
    def test_pool_of_an_all_zero_node(self, space_name, amplified):
        # A hard sample of `none` on every edge into a node makes it all
        # zeros; a pool that reads it and is followed by a batch norm
        # (DARTS's search network) normalises over zero variance, so its
        # input gradient is scaled by 1 / sqrt(epsilon) ~ 316. NAS-Bench-201's
        # pools have no batch norm: the gradient is the pool's own.
        space = search_space.get_space(space_name)
        layout = ParameterLayout()
        node = mixed_op.MixedNode(
            layout, "n", space.ops, [(0, 0, 1)], C, space.pool_batch_norm
        )
        params = layout.unflatten(tf.constant(layout.initial_values(3)))
        zeros = tf.zeros([2, 5, 5, C])
        z = np.zeros([len(space.edges), len(space.ops)], np.float32)
        z[0, space.ops.index("avg_pool_3x3")] = 1.0
        probe = tf.random.stateless_normal([2, 5, 5, C], seed=[5, 6])
        with tf.GradientTape() as tape:
            tape.watch(zeros)
            loss = tf.reduce_sum(node(params, [zeros], tf.constant(z)) * probe)
        ratio = float(tf.norm(tape.gradient(loss, zeros)) / tf.norm(probe))
        if amplified:
            self.assertGreater(ratio, 100.0)
        else:
            self.assertLess(ratio, 2.0)

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
        fused = mixed_op.factorized_reduce(x, even, odd, groups)
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
            grouped = mixed_op.grouped_conv2d(x, kernel, stride)
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

    def test_unknown_op_is_refused(self):
        with self.assertRaisesRegex(ValueError, "cannot mix op 'conv_7x1_1x7'"):
            mixed_op.op_kind("conv_7x1_1x7")


if __name__ == "__main__":
    tf.test.main()
