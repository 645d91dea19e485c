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

Pools are followed by a batch norm where the space's search network has
one (`SearchSpace.pool_batch_norm`: DARTS's MixedOp adds it; NAS-Bench-201's
search cell uses the benchmark's pools as they are). Batch norm in the
supernet has no learned scale or shift (as in DARTS's search) and always
normalises with the statistics of the current batch, in training and
evaluation alike: nothing carries over between inner steps or
between tasks, so the supernet is a pure function of (theta, z, images).
"""

import dataclasses
import re

import numpy as np
import tensorflow as tf

BN_EPSILON = 1e-5

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


def batch_norm(x, scale=None):
    """Batch norm with the batch's statistics and no shift.

    Args:
        x: `[batch, h, w, channels]`.
        scale: `[channels]` factors for the normalised channels, or None
            for none (the supernet's batch norms have no learned scale;
            `MixedNode` passes the op weights z here).

    Returns:
        `scale * (x - mean) / sqrt(var + BN_EPSILON)`, with the mean and
        variance of each channel over the batch and all positions.
    """
    channels = x.shape[-1]
    if scale is None:
        scale = tf.constant(np.ones(channels), x.dtype)
    y, _, _ = tf.compat.v1.nn.fused_batch_norm(
        x,
        scale,
        tf.constant(np.zeros(channels), x.dtype),
        epsilon=BN_EPSILON,
        is_training=True,
    )
    return y


def _dilated_depthwise(x, kernel, stride):
    """Depthwise conv of dilation 2, SAME padding, stride 1 or 2.

    At stride 2 a SAME-padded kernel of dilation 2 reads only the pixels of
    its centres' parity (odd on an even size, even on an odd one), so it is
    an undilated kernel, stride 1, on those pixels: a quarter of the work.
    """
    if stride == 1:
        return tf.nn.depthwise_conv2d(
            x, kernel, [1, 1, 1, 1], "SAME", dilations=[2, 2]
        )
    x = _parity_subsample(x, 1 - x.shape[1] % 2, 1 - x.shape[2] % 2)
    return tf.nn.depthwise_conv2d(x, kernel, [1, 1, 1, 1], "SAME")


def _parity_subsample(x, row, column):
    """`x[:, row::2, column::2, :]`, zero-padded to ceil(size / 2).

    Computed as a depthwise 2x2 convolution of stride 2 and SAME padding
    whose constant kernel is one at tap (row, column): its gradient is a
    depthwise backprop, several times faster on a CPU than the scatter of a
    strided slice's gradient (StridedSliceGrad).
    """
    channels = x.shape[-1]
    kernel = np.zeros([2, 2, channels, 1], np.float32)
    kernel[row, column] = 1.0
    return tf.nn.depthwise_conv2d(
        x, tf.constant(kernel, x.dtype), [1, 2, 2, 1], "SAME"
    )


def factorized_reduce(x, even, odd, groups=1):
    """The two 1x1 stride-2 convs of a factorized reduction, as one conv.

    DARTS's factorized reduction concatenates a 1x1 stride-2 conv of the
    even pixels (0, 2, ...) and one of the odd pixels (the input shifted by
    one). A 2x2 stride-2 conv with SAME padding reads pixels (2i, 2i + 1) of
    each window, so `even` at tap (0, 0) and `odd` at tap (1, 1) (zeros
    elsewhere) compute both halves in one op with no slicing; on an odd
    size SAME pads one zero row and column at the end, where the shifted
    path of `base_tf.search_space.operations.FactorizedReduce` reads its
    zero padding too.

    Args:
        x: `[batch, h, w, groups * c_in]`.
        even: `[1, 1, c_in, groups * c_half]`, the even-pixel kernel.
        odd: the odd-pixel kernel, the same shape.
        groups: independent channel groups (edges), each `c_in` channels
            in and `2 * c_half` out (its even half, then its odd half).

    Returns:
        `[batch, ceil(h / 2), ceil(w / 2), groups * 2 * c_half]`.
    """
    c_in, width = even.shape[2], even.shape[3]
    even = tf.reshape(even, [c_in, groups, width // groups])
    odd = tf.reshape(odd, [c_in, groups, width // groups])
    zeros = tf.zeros_like(even)
    tap_even = tf.reshape(tf.concat([even, zeros], -1), [c_in, 2 * width])
    tap_odd = tf.reshape(tf.concat([zeros, odd], -1), [c_in, 2 * width])
    blank = tf.zeros_like(tap_even)
    kernel = tf.reshape(
        tf.stack([tap_even, blank, blank, tap_odd]), [2, 2, c_in, 2 * width]
    )
    return grouped_conv2d(x, kernel, 2)


def grouped_conv2d(x, kernel, stride=1):
    """A convolution of independent channel groups, on any device.

    The groups are implied by the shapes: `kernel` is `[k, k, C, G * D]`
    for an input of `G * C` channels, and group g maps its C input
    channels through `kernel[..., g * D:(g + 1) * D]` (what
    `tf.nn.conv2d` computes for such shapes, a grouped convolution).

    TensorFlow's grouped convolution has a gradient only under oneDNN or
    cuDNN: its plain CPU kernels, used where oneDNN is off (CPUs without
    AVX-512, or `TF_ENABLE_ONEDNN_OPTS=0`), fail with "filter_size does
    not have enough elements". So no grouped convolution is ever run:

    * a 1x1 convolution of stride 1 is one batched matmul over the groups
      (`[G, pixels, C] @ [G, C, D]`);
    * any other is one plain convolution a group.

    Both have gradients on every device; with oneDNN on they ran as fast as
    the grouped convolution (benchmarks/inner_loop_speed.py).

    Args:
        x: `[batch, h, w, G * C]`.
        kernel: `[k, k, C, G * D]`.
        stride: the convolution's stride (SAME padding).

    Returns:
        `[batch, h', w', G * D]`.
    """
    c, width = kernel.shape[2], kernel.shape[3]
    groups = x.shape[-1] // c
    if groups == 1:
        return tf.nn.conv2d(x, kernel, stride, "SAME")
    if kernel.shape[0] == kernel.shape[1] == 1 and stride == 1:
        d = width // groups
        rows = tf.transpose(tf.reshape(x, [-1, groups, c]), [1, 0, 2])
        weights = tf.transpose(tf.reshape(kernel, [c, groups, d]), [1, 0, 2])
        y = tf.transpose(tf.matmul(rows, weights), [1, 0, 2])
        return tf.reshape(y, _with_channels(x, width))
    return tf.concat(
        [
            tf.nn.conv2d(x_g, k_g, stride, "SAME")
            for x_g, k_g in zip(
                tf.split(x, groups, -1),
                tf.split(kernel, groups, -1),
                strict=True,
            )
        ],
        -1,
    )


def _with_channels(x, channels):
    """The shape of `x` with `channels` channels: static where known."""
    shape = x.shape.as_list()
    if None in shape[1:3]:
        return tf.concat([tf.shape(x)[:3], [channels]], 0)
    return [-1, shape[1], shape[2], channels]


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
            y = _dilated_depthwise(relu, params[self.w[f"dw1_{o}"]], stride)
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

    def __call__(self, params, states, z):
        """x_k = sum_i sum_l z[i, l] * op_l(x_i).

        Args:
            params: `{name: tensor}` from the layout.
            states: the cell's node outputs so far, each `[b, h, w, C]`.
            z: the op weights of the cell type, `[edges, ops]`.

        Returns:
            `[b, h', w', C]`.
        """
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
