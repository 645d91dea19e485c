"""Sampled ops: each edge runs only the op a one-hot z selects.

With a hard sample z of q(z|D), one-hot rows trained with GDAS's
straight-through estimator (`inference.elbo.straight_through`), node k is

    x_k = sum_{i<k} z_{i,k}^{l_i} phi^{l_i}(x_i; theta),
    l_i = argmax_l z_{i,k}^l,

and no other op passes on a value or a gradient. `apply` computes this sum
for the edges of one `mixed_op.MixedGroup` without running the other ops:
for each op l it gathers the edges that sampled l, runs l on all of them
at once (their inputs concatenated along channels, as `mixed_op` does, but
with a number of edges known only when the graph runs), scales each by its
z and sums. Nothing retraces: a new sample changes only the gather
indices, and an op no edge sampled is skipped (a `tf.cond`: oneDNN's
kernels refuse to run on zero channels).

The weights are the group's own (each edge's block of its edge-blocked
kernels), so the values equal `MixedGroup.apply`'s at that z, and so do
the gradients with respect to theta, the inputs and z's selected entries
(tests/supernet/mixed_op_test.py and network_test.py check both spaces).
A grouped convolution here has a number of groups known only when the graph
runs: a 1x1 one is a batched matmul over the groups, as in
`kernels.grouped_conv2d`; NAS-Bench-201's 3x3 one is a depthwise
convolution with an output for each (input, output) channel pair, summed
over the inputs: the same multiply-adds, with a gradient on every device.
"""

import tensorflow as tf

from base_tf.supernet.kernels import (
    batch_norm,
    dilated_depthwise,
    parity_subsample,
)


def apply(group, params, inputs, z):
    """sum_e z[e, l_e] * op_{l_e}(x_e) over the group's edges.

    Args:
        group: a `mixed_op.MixedGroup`.
        params: `{name: tensor}` from the layout.
        inputs: the edges' inputs, in the order of `group.edges`, each
            `[batch, h, w, C]`.
        z: the edges' rows of z, `[len(group.edges), ops]`, one-hot.

    Returns:
        `[batch, h', w', C]`, the group's share of the node.
    """
    stacked = tf.stack(inputs)
    choice = tf.argmax(z, -1, output_type=tf.int32)
    batch = tf.shape(stacked)[1]
    shape = inputs[0].shape.as_list()
    if group.stride == 2:
        shape[1:3] = [(d + 1) // 2 for d in shape[1:3]]
    zeros = tf.zeros([batch, *shape[1:]])
    terms = []
    for op, kind in group.kinds:
        if kind.family == "none":
            continue
        edges = _Edges(
            group, params, tf.where(tf.equal(choice, op))[:, 0], batch
        )

        def term(edges=edges, op=op, kind=kind):
            x = edges.blocked(tf.gather(stacked, edges.indices))
            y = edges.run(op, kind, x, tf.gather(z[:, op], edges.indices))
            return tf.ensure_shape(edges.sum(y), shape)

        # oneDNN refuses kernels of zero elements: an op no edge sampled
        # is skipped, not run on zero channels.
        terms.append(tf.cond(edges.count > 0, term, lambda: zeros))
    return tf.ensure_shape(tf.add_n(terms), shape)


class _Edges:
    """The edges of a group that sampled one op: their weights and data.

    Tensors of these edges are edge-blocked (channel e * C + c is channel c
    of the e-th of them) with a number of edges known when the graph runs.
    Kernels are gathered along their first axis (edges moved there first):
    the gradient of a gather along another axis is ~20 graph ops, which
    made the graph slow to build.
    """

    def __init__(self, group, params, indices, batch):
        self.group = group
        self.params = params
        self.indices = indices
        self.count = tf.size(indices)
        self.batch = batch
        self.m = len(group.edges)
        self.c = group.channels

    def _shape(self, x, *last):
        """`[batch, h, w, *last]` for `x` of static h and w; no -1, which
        cannot be inferred when there are no edges (zero elements)."""
        return [self.batch, x.shape[1], x.shape[2], *last]

    def blocked(self, stacked):
        """`[edges, b, h, w, C]` -> `[b, h, w, edges * C]`."""
        x = tf.transpose(stacked, [1, 2, 3, 0, 4])
        return tf.reshape(x, self._shape(x, self.count * self.c))

    def sum(self, y):
        """`[b, h, w, edges * C]` -> `[b, h, w, C]`, the sum over edges."""
        y = tf.reshape(y, self._shape(y, self.count, self.c))
        return tf.reduce_sum(y, 3)

    def _take(self, kernel, shape):
        """`kernel` reshaped to `shape` = `[a, m, b]`, these edges' rows of
        the middle axis, edges first: `[edges, a, b]`."""
        kernel = tf.transpose(tf.reshape(kernel, shape), [1, 0, 2])
        return tf.gather(kernel, self.indices)

    def depthwise(self, name):
        """These edges' channels of a `[k, k, m * C, 1]` depthwise kernel."""
        kernel = self.params[self.group.w[name]]
        k = kernel.shape[0]
        kernel = self._take(kernel, [k * k, self.m, self.c])
        kernel = tf.transpose(kernel, [1, 0, 2])
        return tf.reshape(kernel, [k, k, self.count * self.c, 1])

    def groups(self, name, block=0, width=None):
        """These edges' `[edges, C, width]` kernels of block `block` of an
        op-major `[1, 1, C, blocks * m * width]` grouped 1x1 kernel."""
        width = width or self.c
        kernel = self.params[self.group.w[name]]
        kernel = tf.transpose(
            tf.reshape(kernel, [self.c, -1, width]), [1, 0, 2]
        )
        return tf.gather(kernel, self.indices + block * self.m)

    def pointwise(self, x, kernels):
        """Each edge's C channels of `x` through its `[C, D]` kernel."""
        pixels = self.batch * x.shape[1] * x.shape[2]
        rows = tf.reshape(x, [pixels, self.count, kernels.shape[1]])
        y = tf.matmul(tf.transpose(rows, [1, 0, 2]), kernels)
        y = tf.transpose(y, [1, 0, 2])
        return tf.reshape(y, self._shape(x, self.count * kernels.shape[2]))

    def conv(self, x, name, stride):
        """Each edge's C channels of `x` through its `[k, k, C, C]` slice
        of a `[k, k, C, m * C]` kernel (NAS-Bench-201's ReLU-conv-BN)."""
        kernel = self.params[self.group.w[name]]
        k, c = kernel.shape[0], self.c
        if k == 1:
            if stride == 2:
                x = parity_subsample(x, 0, 0)
            return self.pointwise(x, self.groups(name))
        kernel = self._take(kernel, [k * k * c, self.m, c])
        kernel = tf.transpose(
            tf.reshape(kernel, [self.count, k * k, c, c]), [1, 0, 2, 3]
        )
        kernel = tf.reshape(kernel, [k, k, self.count * c, c])
        y = tf.nn.depthwise_conv2d(x, kernel, [1, stride, stride, 1], "SAME")
        y = tf.reduce_sum(tf.reshape(y, self._shape(y, self.count, c, c)), 4)
        return tf.reshape(y, self._shape(y, self.count * c))

    def run(self, op, kind, x, weight):
        """weight[e] * op(x_e) for these edges: `MixedGroup.apply`'s ops."""
        group, c = self.group, self.c
        stride = group.stride
        scale = tf.reshape(weight[:, None] * tf.ones([c]), [-1])
        family = kind.family
        if family == "skip" and stride == 1:
            return x * scale
        if "pool" in family:
            pool = (
                tf.nn.max_pool2d if family == "max_pool" else tf.nn.avg_pool2d
            )
            y = pool(x, 3, stride, "SAME")
            return batch_norm(y, scale) if group.pool_batch_norm else y * scale
        relu = tf.nn.relu(x)
        if family == "skip":  # A factorized reduction: even, odd pixels.
            half = c // 2
            even = self.pointwise(
                parity_subsample(relu, 0, 0), self.groups("fr_a", width=half)
            )
            odd = self.pointwise(
                parity_subsample(relu, 1, 1), self.groups("fr_b", width=half)
            )
            y = tf.concat(
                [
                    tf.reshape(even, self._shape(even, self.count, half)),
                    tf.reshape(odd, self._shape(odd, self.count, half)),
                ],
                -1,
            )
            y = tf.reshape(y, self._shape(y, self.count * c))
        elif family == "nor":
            y = self.conv(relu, f"nor_{op}", stride)
        elif family == "dil":
            block = len(group.sep) + [o for o, _ in group.dil].index(op)
            y = dilated_depthwise(relu, self.depthwise(f"dw1_{op}"), stride)
            y = self.pointwise(y, self.groups("pw1", block))
        else:  # sep: ReLU-dw-pw-BN twice, the stride on the first.
            block = [o for o, _ in group.sep].index(op)
            y = tf.nn.depthwise_conv2d(
                relu,
                self.depthwise(f"dw1_{op}"),
                [1, stride, stride, 1],
                "SAME",
            )
            y = tf.nn.relu(
                batch_norm(self.pointwise(y, self.groups("pw1", block)))
            )
            y = tf.nn.depthwise_conv2d(
                y, self.depthwise(f"dw2_{op}"), [1, 1, 1, 1], "SAME"
            )
            y = self.pointwise(y, self.groups("pw2", block))
        return batch_norm(y, scale)
