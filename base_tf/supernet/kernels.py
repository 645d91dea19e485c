"""The supernet's fused kernels: its ops written as few, large TF ops.

`mixed_op` runs every op on all the edges into a node at once, with their
inputs concatenated along channels; `sampled_op` runs one op on one edge.
Both are built from these kernels. Each exists because, on a CPU, the
obvious TF op was slower or lacked a gradient on some machines; its
docstring says which and by how much.

Batch norm in the supernet has no learned scale or shift (as in DARTS's
search) and always normalises with the statistics of the current batch, in
training and evaluation alike: nothing carries over between inner steps or
between tasks, so the supernet is a pure function of (theta, z, images).
"""

import numpy as np
import tensorflow as tf

BN_EPSILON = 1e-5


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
    if channels is None:  # Known when the graph runs (`sampled_op`).
        channels = tf.shape(x)[-1:]
        ones, zeros = tf.ones(channels, x.dtype), tf.zeros(channels, x.dtype)
    else:
        ones = tf.constant(np.ones(channels), x.dtype)
        zeros = tf.constant(np.zeros(channels), x.dtype)
    y, _, _ = tf.compat.v1.nn.fused_batch_norm(
        x,
        ones if scale is None else scale,
        zeros,
        epsilon=BN_EPSILON,
        is_training=True,
    )
    return y


def dilated_depthwise(x, kernel, stride):
    """Depthwise conv of dilation 2, SAME padding, stride 1 or 2.

    A kernel of dilation 2 reads only pixels of its centre's parity. At
    stride 1 it is an undilated kernel on each of the four parity
    sub-images (`tf.space_to_batch`, after a zero row and column on an odd
    size, which SAME padding would read as well): what
    `tf.nn.depthwise_conv2d` does for dilations, written out because its
    wrapper needs the channels known when the graph is built
    (`sampled_op`'s are not). At stride 2 a SAME-padded kernel reads only
    the pixels of its centres' parity (odd on an even size, even on an odd
    one), so it is an undilated kernel, stride 1, on those pixels: a quarter
    of the work.
    """
    if stride == 1:
        pad = [[0, x.shape[1] % 2], [0, x.shape[2] % 2]]
        y = tf.nn.depthwise_conv2d(
            tf.space_to_batch(x, [2, 2], pad), kernel, [1, 1, 1, 1], "SAME"
        )
        return tf.batch_to_space(y, [2, 2], pad)
    x = parity_subsample(x, 1 - x.shape[1] % 2, 1 - x.shape[2] % 2)
    return tf.nn.depthwise_conv2d(x, kernel, [1, 1, 1, 1], "SAME")


def parity_subsample(x, row, column):
    """`x[:, row::2, column::2, :]`, zero-padded to ceil(size / 2).

    Computed as a depthwise 2x2 convolution of stride 2 and SAME padding
    whose constant kernel is one at tap (row, column): its gradient is a
    depthwise backprop, several times faster on a CPU than the scatter of a
    strided slice's gradient (StridedSliceGrad).
    """
    tap = np.zeros([2, 2, 1, 1], np.float32)
    tap[row, column] = 1.0
    if x.shape[-1] is None:  # Known when the graph runs (`sampled_op`).
        kernel = tf.tile(tf.constant(tap, x.dtype), [1, 1, tf.shape(x)[-1], 1])
    else:
        kernel = tf.constant(np.tile(tap, [1, 1, x.shape[-1], 1]), x.dtype)
    return tf.nn.depthwise_conv2d(x, kernel, [1, 2, 2, 1], "SAME")


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
        return tf.reshape(y, with_channels(x, width))
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


def with_channels(x, channels):
    """The shape of `x` with `channels` channels: static where known."""
    shape = x.shape.as_list()
    if None in shape[1:3]:
        return tf.concat([tf.shape(x)[:3], [channels]], 0)
    return [-1, shape[1], shape[2], channels]
