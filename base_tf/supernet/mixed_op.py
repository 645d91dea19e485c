"""Mixed ops: every candidate op on every edge into a node, weighted by z.

The supernet's node k is

    x_k = sum_{i<k} sum_l z_{i,k}^l phi^l(x_i; theta)            (poster, eq. 1)

Computed edge by edge and op by op, as in DARTS, that is ~10 small TF ops per
(edge, op) pair: on a CPU the per-op overhead on small tensors, not the
arithmetic, sets the speed. `MixedNode` computes the same sum with fewer,
larger ops. The inputs of the edges into a node that share a stride are
concatenated along channels ("edge-blocked": channel e * C + c is channel c
of edge e), and every op runs on all those edges at once:

* a depthwise convolution is one depthwise op over all edges;
* a pointwise (1x1) convolution is one batched matmul over the edges, a
  grouped 1x1 convolution (groups = edges; `grouped_conv2d` says why it is
  not TensorFlow's grouped convolution);
* a batch norm is one fused batch norm over all edges (its statistics are
  per channel, so per edge);
* z_{i,k}^l weights op l on edge i as the scale of the op's last batch norm
  (each channel of edge i's block scaled by it; the identity is multiplied
  by it), so weighting costs no op of its own; the node sums the ops, then
  the edges with a reshape.

Ops are not fused with one another: joining their outputs along channels
(one batch norm, one mixing convolution for all ops) costs a copy of every
output forward and another backward (concat and its slicing gradient),
which on a CPU took longer than the extra, equally large ops it saves
(benchmarks/inner_loop_speed.py: training step 24.9 -> 29.6 images/s when
they were split).

The result equals the op-by-op sum (tests/supernet/mixed_op_test.py checks
it against the Keras op layers of `base_tf.search_space.operations`).

When z is one-hot (a hard sample trained with GDAS's estimator, whose
gradient reaches only the sampled op), every other op is multiplied by zero
and passes no gradient on: computing it is wasted. With `one_hot`,
`MixedNode` runs on each edge only the op its row of z selects
(`sampled_op`), from the same weights.

Pools are followed by a batch norm where the space's search network has
one (`SearchSpace.pool_batch_norm`: DARTS's MixedOp adds it; NAS-Bench-201's
search cell uses the benchmark's pools as they are). The kernels, batch
norm among them, are in `kernels`.
"""

import dataclasses
import re

import numpy as np
import tensorflow as tf

from base_tf.supernet import sampled_op
from base_tf.supernet.kernels import (
    batch_norm,
    dilated_depthwise,
    factorized_reduce,
    grouped_conv2d,
)

_CONV_OP = re.compile(r"^(sep|dil|nor)_conv_(\d)x\2$")


@dataclasses.dataclass(frozen=True)
class OpKind:
    """How the supernet computes an op: its family and kernel size."""

    family: str  # none, max_pool, avg_pool, skip, sep, dil, nor
    kernel_size: int = 0


def op_kind(name):
    """The `OpKind` of the op named `name`.

    Raises:
        ValueError: the supernet has no mixed implementation of `name`.
    """
    if name == "none":
        return OpKind("none")
    if name == "skip_connect":
        return OpKind("skip")
    if name in ("max_pool_3x3", "avg_pool_3x3"):
        return OpKind(name[:8], 3)
    match = _CONV_OP.match(name)
    if match:
        return OpKind(match.group(1), int(match.group(2)))
    raise ValueError(
        f"The supernet cannot mix op {name!r}: it mixes none, skip_connect, "
        "max_pool_3x3, avg_pool_3x3, sep_conv_kxk, dil_conv_kxk and "
        "nor_conv_kxk."
    )


class MixedGroup:
    """The edges into one node that share a stride, with all their ops.

    Args:
        layout: the `ParameterLayout` the group adds its weights to.
        prefix: the name prefix of those weights.
        ops: the op names, in the architecture parameters' column order.
        edges: `(edge index, source node)` of the group's edges; the edge
            index is the edge's row of z.
        channels: C, the channels of every edge input and of the output.
        stride: 1, or 2 for the edges of a reduction cell's inputs.
        pool_batch_norm: whether each pool is followed by a batch norm
            (`SearchSpace.pool_batch_norm`).
    """

    def __init__(
        self, layout, prefix, ops, edges, channels, stride, pool_batch_norm
    ):
        self.pool_batch_norm = pool_batch_norm
        self.edges = tuple(e for e, _ in edges)
        self.sources = tuple(i for _, i in edges)
        self.stride = stride
        self.channels = channels
        m = len(self.edges)
        self.kinds = [(o, op_kind(name)) for o, name in enumerate(ops)]
        self.sep = [
            (o, k.kernel_size) for o, k in self.kinds if k.family == "sep"
        ]
        self.dil = [
            (o, k.kernel_size) for o, k in self.kinds if k.family == "dil"
        ]
        self.nor = [
            (o, k.kernel_size) for o, k in self.kinds if k.family == "nor"
        ]
        self.pools = [
            (o, k.family) for o, k in self.kinds if "pool" in k.family
        ]
        skip = [o for o, k in self.kinds if k.family == "skip"]
        self.skip = skip[0] if skip else None
        c = channels
        self.w = {}
        for o, k in self.sep + self.dil:
            self.w[f"dw1_{o}"] = layout.add(
                f"{prefix}/op{o}/depthwise1", [k, k, m * c, 1], k * k
            )
        for o, k in self.sep:
            self.w[f"dw2_{o}"] = layout.add(
                f"{prefix}/op{o}/depthwise2", [k, k, m * c, 1], k * k
            )
        num_dw = len(self.sep) + len(self.dil)
        if num_dw:
            self.w["pw1"] = layout.add(
                f"{prefix}/pointwise1", [1, 1, c, num_dw * m * c], c
            )
        if self.sep:
            self.w["pw2"] = layout.add(
                f"{prefix}/pointwise2", [1, 1, c, len(self.sep) * m * c], c
            )
        for o, k in self.nor:
            self.w[f"nor_{o}"] = layout.add(
                f"{prefix}/op{o}/conv", [k, k, c, m * c], k * k * c
            )
        if self.skip is not None and stride == 2:
            if c % 2:
                raise ValueError(
                    f"{prefix}: a factorized reduction needs an even number "
                    f"of channels, got {c}."
                )
            for half in ("a", "b"):
                self.w[f"fr_{half}"] = layout.add(
                    f"{prefix}/factorized_reduce_{half}",
                    [1, 1, c, m * c // 2],
                    c,
                )
        self.mixed_ops = tuple(o for o, k in self.kinds if k.family != "none")

    def apply(self, params, x, weights):
        """Every op on every edge of the group, each weighted by z.

        Each op's output ends in a batch norm (or, for skip_connect at
        stride 1 and for pools without batch norm, is the input or its
        pool), so its weight is that batch norm's scale (an elementwise
        product otherwise): weighting costs no op of its own, and the
        gradient of z comes from the batch norm's gradient.

        Args:
            params: `{name: tensor}` from the layout.
            x: the edge inputs, edge-blocked: `[batch, h, w, m * C]`.
            weights: `{op column: [m * C]}` for the ops in `mixed_ops`:
                z[e, op] repeated over the C channels of each edge e.

        Returns:
            `{op column: [batch, h', w', m * C]}`: z[e, op] * op(x_e) for
            each op in `mixed_ops`, edge-blocked like `x`.
        """
        stride, strides = self.stride, [1, self.stride, self.stride, 1]
        m = len(self.edges)
        relu = tf.nn.relu(x)
        num_dw = len(self.sep) + len(self.dil)
        # The pointwise kernels of all ops and edges are stored together,
        # op-major; each op's `[1, 1, C, m * C]` block is a grouped conv.
        pw1 = tf.split(params[self.w["pw1"]], num_dw, -1) if num_dw else []
        pw2 = (
            tf.split(params[self.w["pw2"]], len(self.sep), -1)
            if self.sep
            else []
        )
        out = {}
        for p, (o, _) in enumerate(self.sep):
            # ReLU-dw-pw-BN twice (DARTS's SepConv), stride on the first.
            y = tf.nn.depthwise_conv2d(
                relu, params[self.w[f"dw1_{o}"]], strides, "SAME"
            )
            y = tf.nn.relu(batch_norm(grouped_conv2d(y, pw1[p])))
            y = tf.nn.depthwise_conv2d(
                y, params[self.w[f"dw2_{o}"]], [1, 1, 1, 1], "SAME"
            )
            out[o] = batch_norm(grouped_conv2d(y, pw2[p]), weights[o])
        for p, (o, _) in enumerate(self.dil, start=len(self.sep)):
            y = dilated_depthwise(relu, params[self.w[f"dw1_{o}"]], stride)
            out[o] = batch_norm(grouped_conv2d(y, pw1[p]), weights[o])
        for o, _ in self.nor:
            out[o] = batch_norm(
                grouped_conv2d(relu, params[self.w[f"nor_{o}"]], stride),
                weights[o],
            )
        for o, family in self.pools:
            pool = (
                tf.nn.max_pool2d if family == "max_pool" else tf.nn.avg_pool2d
            )
            y = pool(x, 3, stride, "SAME")
            if self.pool_batch_norm:
                out[o] = batch_norm(y, weights[o])
            else:
                out[o] = y * weights[o]
        if self.skip is not None:
            if stride == 1:
                out[self.skip] = x * weights[self.skip]
            else:
                out[self.skip] = batch_norm(
                    factorized_reduce(
                        relu, params[self.w["fr_a"]], params[self.w["fr_b"]], m
                    ),
                    weights[self.skip],
                )
        return out


def _sum_edges(x, m):
    """`[b, h, w, m * C]` edge-blocked -> `[b, h, w, C]`, the sum over edges."""
    shape = x.shape.as_list()
    c = shape[-1] // m
    if None in shape[1:3]:
        new_shape = tf.concat([tf.shape(x)[:3], [m, c]], 0)
    else:
        new_shape = [-1, shape[1], shape[2], m, c]
    return tf.reduce_sum(tf.reshape(x, new_shape), -2)


def _concat(tensors):
    return tensors[0] if len(tensors) == 1 else tf.concat(tensors, -1)


class MixedNode:
    """Node k of a cell: the z-weighted sum of every op on every edge into it.

    Args:
        layout: the `ParameterLayout` the node adds its weights to.
        prefix: the name prefix of those weights.
        ops: the op names (columns of z).
        in_edges: `(edge index, source node, stride)` of each edge into the
            node.
        channels: C.
        pool_batch_norm: whether each pool is followed by a batch norm
            (`SearchSpace.pool_batch_norm`).
    """

    def __init__(
        self, layout, prefix, ops, in_edges, channels, pool_batch_norm
    ):
        self.channels = channels
        self.groups = []
        for stride in sorted({s for _, _, s in in_edges}):
            self.groups.append(
                MixedGroup(
                    layout,
                    f"{prefix}/stride{stride}",
                    ops,
                    [(e, i) for e, i, s in in_edges if s == stride],
                    channels,
                    stride,
                    pool_batch_norm,
                )
            )
        # For each group, `[ops, edges]`: the entries of z (flattened
        # [edges, ops]) that weight each of its ops on each of its edges.
        num_ops = len(ops)
        self._z_index = [
            np.array(
                [[e * num_ops + o for e in g.edges] for o in g.mixed_ops],
                np.int32,
            )
            for g in self.groups
        ]

    def __call__(self, params, states, z, one_hot=False):
        """x_k = sum_i sum_l z[i, l] * op_l(x_i).

        Args:
            params: `{name: tensor}` from the layout.
            states: the cell's node outputs so far, each `[b, h, w, C]`.
            z: the op weights of the cell type, `[edges, ops]`.
            one_hot: z's rows are one-hot: run only the op each selects
                (`sampled_op.apply`) instead of every op.

        Returns:
            `[b, h', w', C]`.
        """
        if one_hot:
            return tf.add_n(
                [
                    sampled_op.apply(
                        group,
                        params,
                        [states[i] for i in group.sources],
                        tf.gather(z, group.edges),
                    )
                    for group in self.groups
                ]
            )
        flat_z = tf.reshape(z, [-1])
        c = self.channels
        terms = []
        for group, index in zip(self.groups, self._z_index, strict=True):
            # z[e, o] for the group's ops and edges, each repeated over the
            # C channels of its edge's block.
            m = index.shape[1]
            weights = tf.repeat(tf.gather(flat_z, index), c, axis=-1)
            outputs = group.apply(
                params,
                _concat([states[i] for i in group.sources]),
                dict(zip(group.mixed_ops, tf.unstack(weights), strict=True)),
            )
            terms.append(_sum_edges(tf.add_n(list(outputs.values())), m))
        return tf.add_n(terms)
