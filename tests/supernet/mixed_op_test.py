"""The fused mixed node equals the paper's equation, the op-by-op sum of
`supernet.mixed_edge.MixedEdge` over its in-edges."""

import numpy as np
import tensorflow as tf
from absl.testing import parameterized

from base_tf import search_space
from base_tf.supernet import mixed_edge, mixed_op
from base_tf.supernet.parameters import ParameterLayout

C = 4


def _edge_block(kernel, j, width):
    """Output-channel block j of a grouped kernel `[..., G * width]`."""
    return kernel[..., j * width : (j + 1) * width]


# Node k of a cell with the edges into it, and a size: DARTS's normal cell,
# node 3 (edges from 0, 1, 2, all stride 1); its reduction cell (0 and 1 at
# stride 2, 2 at stride 1), also at an odd size; NAS-Bench-201's node 3.
NODES = (
    ("darts_normal", "darts", 3, False, 8),
    ("darts_reduce", "darts", 3, True, 8),
    ("darts_reduce_odd_size", "darts", 2, True, 7),
    ("nas_bench_201", "nas_bench_201", 3, False, 6),
)


def _node_and_states(space, node_index, reduction, size, seed):
    """A `MixedNode` of `space` (its layout holds its weights) and random
    inputs: `[3, size, size, C]`, or reduced size after a reduction."""
    in_edges = [
        (e, i, 2 if reduction and i < space.num_input_nodes else 1)
        for e, (i, k) in enumerate(space.edges)
        if k == node_index
    ]
    layout = ParameterLayout()
    node = mixed_op.MixedNode(
        layout, "node", space.ops, in_edges, C, space.pool_batch_norm
    )
    rng = np.random.default_rng(seed)
    reduced = (size + 1) // 2
    states = [
        tf.constant(
            rng.normal(
                size=[3]
                + [
                    reduced
                    if reduction and i >= space.num_input_nodes
                    else size
                ]
                * 2
                + [C]
            ),
            tf.float32,
        )
        for i in range(node_index)
    ]
    return node, layout, states, rng


def _reference_node(node, params, states, z, space):
    """sum_e MixedEdge_e(x_e; z[e]): the paper's equation as the library
    states it (`supernet.mixed_edge`), each op's Keras layer holding the
    fused node's weights, BN in training mode."""
    total = 0.0
    for group in node.groups:
        num_dw = len(group.sep) + len(group.dil)
        m = len(group.edges)
        for j, (e, i) in enumerate(
            zip(group.edges, group.sources, strict=True)
        ):
            x = states[i]
            edge = mixed_edge.MixedEdge(space.name, C, group.stride)
            edge(x, z=z[e], training=True)  # builds its ops
            for o, name in enumerate(space.ops):
                if name == "none":
                    continue
                layer = edge.ops[o]
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
            total += edge(x, z=z[e], training=True)
    return total


class MixedNodeTest(tf.test.TestCase, parameterized.TestCase):
    @parameterized.named_parameters(*NODES)
    def test_equals_op_by_op_sum(self, space_name, node_index, reduction, size):
        space = search_space.get_space(space_name)
        node, layout, states, rng = _node_and_states(
            space, node_index, reduction, size, seed=1
        )
        params = layout.unflatten(tf.constant(layout.initial_values(0)))
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

    @parameterized.named_parameters(*NODES)
    def test_sampled_ops_only_equal_the_mixture_at_one_hot_z(
        self, space_name, node_index, reduction, size
    ):
        # Edge e samples op (e + shift) % ops: over the shifts every op runs
        # on every edge. Values and the gradients of theta, the inputs and
        # z's sampled entries must equal the full mixture's at that z.
        space = search_space.get_space(space_name)
        node, layout, states, _ = _node_and_states(
            space, node_index, reduction, size, seed=2
        )
        theta = tf.constant(layout.initial_values(0))
        num_ops = len(space.ops)
        for shift in range(num_ops):
            z = tf.one_hot(
                [(e + shift) % num_ops for e in range(len(space.edges))],
                num_ops,
            )
            results = []
            for one_hot in (False, True):
                with tf.GradientTape() as tape:
                    tape.watch([theta, z, states])
                    y = node(layout.unflatten(theta), states, z, one_hot)
                    probe = tf.constant(
                        np.random.default_rng(3).normal(size=y.shape),
                        tf.float32,
                    )
                    loss = tf.reduce_sum(y * probe)
                results.append(
                    (
                        y,
                        *tape.gradient(
                            loss,
                            [theta, z, states],
                            # An edge that sampled `none` reads no input.
                            unconnected_gradients="zero",
                        ),
                    )
                )
            (mixed, d_theta, d_z, d_states), sampled = results
            self.assertAllClose(sampled[0], mixed, atol=1e-5)
            self.assertAllClose(sampled[1], d_theta, atol=1e-4)
            self.assertAllClose(
                tf.convert_to_tensor(sampled[2]), d_z * z, atol=1e-4
            )
            for a, b in zip(sampled[3], d_states, strict=True):
                self.assertAllClose(a, b, atol=1e-4)

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

    def test_unknown_op_is_refused(self):
        with self.assertRaisesRegex(ValueError, "cannot mix op 'conv_7x1_1x7'"):
            mixed_op.op_kind("conv_7x1_1x7")


if __name__ == "__main__":
    tf.test.main()
