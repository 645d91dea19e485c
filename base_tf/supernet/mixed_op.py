"""Mixed ops: every candidate op on every edge into a node, weighted by z.

The supernet's node k is

    x_k = sum_{i<k} sum_l z_{i,k}^l phi^l(x_i; theta)            (poster, eq. 1)

Computed edge by edge and op by op, as in DARTS, that is ~10 small TF ops per
(edge, op) pair: on a CPU the per-op overhead on small tensors, not the
arithmetic, sets the speed. `MixedNode` computes the same sum with a few
large ops instead. The inputs of the edges into a node that share a stride
are concatenated along channels ("edge-blocked": channel e * C + c is channel
c of edge e), and then

* every depthwise convolution is one depthwise op over all edges;
* every pointwise convolution of all conv ops is one grouped 1x1
  convolution (groups = ops x edges);
* the batch norms of all ops of a stage are one fused batch norm;
* the weighted sum over edges and ops is one 1x1 convolution whose kernel
  holds z (z_{i,k}^l times an identity block for each edge and op).

The result equals the op-by-op sum (tests/supernet/mixed_op_test.py checks
it against the Keras op layers of `base_tf.search_space.operations`).

Batch norm in the supernet has no learned scale or shift (as in DARTS's
search) and always normalises with the statistics of the current batch, in
training and evaluation alike: nothing carries over between inner steps or
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


def batch_norm(x):
    """Batch norm without scale or shift, with the batch's statistics."""
    channels = x.shape[-1]
    y, _, _ = tf.compat.v1.nn.fused_batch_norm(
        x,
        tf.ones([channels], x.dtype),
        tf.zeros([channels], x.dtype),
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
    offset_h = 1 - x.shape[1] % 2
    offset_w = 1 - x.shape[2] % 2
    x = x[:, offset_h::2, offset_w::2, :]
    return tf.nn.depthwise_conv2d(x, kernel, [1, 1, 1, 1], "SAME")


def shifted(x):
    """`x` without its first row and column: the odd path of a factorized
    reduction. A 1x1 SAME conv of stride 2 on it reads pixels 1, 3, ... of
    `x` and gives ceil(size / 2) outputs, like the even path, once an odd
    size is zero-padded by one at the end (DARTS's case, an even size, needs
    no padding)."""
    pad_h, pad_w = x.shape[1] % 2, x.shape[2] % 2
    x = x[:, 1:, 1:, :]
    if pad_h or pad_w:
        x = tf.pad(x, [[0, 0], [0, pad_h], [0, pad_w], [0, 0]])
    return x


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
    """

    def __init__(self, layout, prefix, ops, edges, channels, stride):
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
        self.mix_rows = self._mix_rows()

    def _mix_rows(self):
        """For each channel of `apply`'s output, (row of z, output channel).

        The output concatenates, in this order: the first-stage outputs
        (dil, nor, pools, factorized reduction), the skip identity, the
        second-stage (sep) outputs; each op's block is edge-blocked.
        """
        c = self.channels
        rows = []

        def block(o):
            for e in self.edges:
                rows.extend((e, o, ch) for ch in range(c))

        for o, _ in self.dil + self.nor + self.pools:
            block(o)
        if self.skip is not None and self.stride == 2:
            half = c // 2  # channels (a_0..a_m, b_0..b_m), a then b of each
            for part in (0, 1):
                for e in self.edges:
                    rows.extend(
                        (e, self.skip, part * half + ch) for ch in range(half)
                    )
        elif self.skip is not None:
            block(self.skip)
        for o, _ in self.sep:
            block(o)
        return rows

    def apply(self, params, x):
        """All ops on all edges of the group, not yet weighted.

        Args:
            params: `{name: tensor}` from the layout.
            x: the edge inputs, edge-blocked: `[batch, h, w, m * C]`.

        Returns:
            `[batch, h', w', len(self.mix_rows)]`, see `_mix_rows`.
        """
        stride, strides = self.stride, [1, self.stride, self.stride, 1]
        relu = tf.nn.relu(x)
        stage1 = []
        dw = []
        for o, _ in self.sep:
            dw.append(
                tf.nn.depthwise_conv2d(
                    relu, params[self.w[f"dw1_{o}"]], strides, "SAME"
                )
            )
        for o, _ in self.dil:
            dw.append(
                _dilated_depthwise(relu, params[self.w[f"dw1_{o}"]], stride)
            )
        if dw:
            stage1.append(
                _grouped_pointwise(_concat(dw), params[self.w["pw1"]])
            )
        for o, _ in self.nor:
            stage1.append(
                tf.nn.conv2d(relu, params[self.w[f"nor_{o}"]], strides, "SAME")
            )
        for _, family in self.pools:
            pool = (
                tf.nn.max_pool2d if family == "max_pool" else tf.nn.avg_pool2d
            )
            stage1.append(pool(x, 3, stride, "SAME"))
        if self.skip is not None and stride == 2:
            stage1.append(
                tf.nn.conv2d(relu, params[self.w["fr_a"]], strides, "SAME")
            )
            stage1.append(
                tf.nn.conv2d(
                    shifted(relu), params[self.w["fr_b"]], strides, "SAME"
                )
            )
        # DARTS's pools are followed by batch norm in the search network too.
        normed = batch_norm(_concat(stage1)) if stage1 else None
        sep_width = len(self.sep) * len(self.edges) * self.channels
        outputs = []
        if normed is not None:
            # tf.split, not slicing: a slice's gradient is a full-size
            # scatter, several times slower on CPU than split's concat.
            if self.sep:
                rest_width = normed.shape[-1] - sep_width
                sep1, rest = tf.split(normed, [sep_width, rest_width], -1)
            else:
                sep1, rest = None, normed
            if rest.shape[-1]:
                outputs.append(rest)
        if self.skip is not None and stride == 1:
            outputs.append(x)
        if self.sep:
            relu1 = tf.split(tf.nn.relu(sep1), len(self.sep), -1)
            dw2 = [
                tf.nn.depthwise_conv2d(
                    r, params[self.w[f"dw2_{o}"]], [1, 1, 1, 1], "SAME"
                )
                for r, (o, _) in zip(relu1, self.sep, strict=True)
            ]
            outputs.append(
                batch_norm(
                    _grouped_pointwise(_concat(dw2), params[self.w["pw2"]])
                )
            )
        return _concat(outputs)


def _concat(tensors):
    return tensors[0] if len(tensors) == 1 else tf.concat(tensors, -1)


def _grouped_pointwise(x, kernel):
    """1x1 convs of independent channel groups, as one grouped conv op.

    The groups are implied by the shapes: `kernel` is `[1, 1, C, G * C]`
    for an input of `G * C` channels.
    """
    return tf.nn.conv2d(x, kernel, 1, "SAME")


class MixedNode:
    """Node k of a cell: the z-weighted sum of every op on every edge into it.

    Args:
        layout: the `ParameterLayout` the node adds its weights to.
        prefix: the name prefix of those weights.
        ops: the op names (columns of z).
        in_edges: `(edge index, source node, stride)` of each edge into the
            node.
        channels: C.
    """

    def __init__(self, layout, prefix, ops, in_edges, channels):
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
                )
            )
        rows = [r for g in self.groups for r in g.mix_rows]
        num_ops = len(ops)
        # Static gather indices into z (flattened [edges, ops]) and a one-hot
        # of each row's output channel: the mixing kernel is their product.
        self._z_index = np.array(
            [e * num_ops + o for e, o, _ in rows], np.int32
        )
        self._one_hot = np.eye(channels, dtype=np.float32)[
            [ch for *_, ch in rows]
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
        features = _concat(
            [
                g.apply(params, _concat([states[i] for i in g.sources]))
                for g in self.groups
            ]
        )
        weights = tf.gather(tf.reshape(z, [-1]), self._z_index)
        kernel = weights[:, None] * tf.constant(self._one_hot, z.dtype)
        return tf.nn.conv2d(features, kernel[None, None], 1, "SAME")
