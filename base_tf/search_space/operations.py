"""The candidate operations of the DARTS and NAS-Bench-201 search spaces.

Each candidate op is a Keras 3 layer on channels-last (NHWC) tensors; `OPS`
maps an op's name to a factory `OPS[name](channels, stride, affine)`, so a
search space is just a list of names (as in DARTS's `operations.py`).

Conventions shared by every op:

* `channels` is the number of output channels. Ops without weights (`none`,
  the pools, `skip_connect` at stride 1) keep the input's channels, so the
  caller feeds them `channels` channels; ops with weights accept any input
  channel count and map it to `channels`.
* `stride` is 1 or 2. At stride 2 every op gives `ceil(H / 2) x ceil(W / 2)`,
  odd sizes included, so the ops of one mixed edge can be summed.
* `affine=False` gives BatchNormalization without centre and scale, the
  supernet's BN in DARTS.
* Padding, convolutions and BN follow DARTS as `building_blocks` states,
  since every op is made of its layers.

Every op is a `base_op.Op`, which checks, stores and configures its
arguments; each creates its weights in `build`, computes in `call` and
round-trips through `get_config`; all are registered with Keras under the
package "base_tf", so a model using them saves and loads with
`keras.saving` and no `custom_objects`.
"""

import keras

from base_tf.search_space.base_op import Op, check_arguments
from base_tf.search_space.building_blocks import (
    DATA_FORMAT,
    batch_norm,
    build_in_order,
    conv,
    depthwise,
)

_PACKAGE = "base_tf"


@keras.saving.register_keras_serializable(package=_PACKAGE)
class Zero(Op):
    """The `none` op: zeros of the output's shape.

    At stride 2 the output is `ceil(H / 2) x ceil(W / 2)`, like DARTS's
    `x[:, :, ::2, ::2].mul(0.)`. No gradient flows through it.

    Args:
        stride: 1 or 2.
        **kwargs: passed to `keras.layers.Layer` (e.g. `name`, `dtype`).
    """

    ARGUMENTS = ("stride",)

    def __init__(self, stride=1, **kwargs):
        super().__init__(stride, **kwargs)

    def call(self, inputs):
        if self.stride == 1:
            return keras.ops.zeros_like(inputs)
        return keras.ops.zeros_like(inputs[:, ::2, ::2, :])


@keras.saving.register_keras_serializable(package=_PACKAGE)
class Identity(Op):
    """`skip_connect` at stride 1: returns its input unchanged.

    Args:
        **kwargs: passed to `keras.layers.Layer` (e.g. `name`, `dtype`).
    """

    def call(self, inputs):
        return inputs


@keras.saving.register_keras_serializable(package=_PACKAGE)
class Pooling(Op):
    """3x3 max or average pooling, SAME padding.

    Average pooling does not count the padding in the average (TF's SAME
    pooling already excludes it), like DARTS's `count_include_pad=False`.

    Args:
        mode: "max" or "avg".
        pool_size: the window's side, a positive integer.
        stride: 1 or 2.
        **kwargs: passed to `keras.layers.Layer` (e.g. `name`, `dtype`).
    """

    ARGUMENTS = ("mode", "pool_size", "stride")

    def __init__(self, mode, pool_size=3, stride=1, **kwargs):
        super().__init__(mode, pool_size, stride, **kwargs)

    def call(self, inputs):
        if self.mode == "max":
            pool = keras.ops.max_pool
        else:
            pool = keras.ops.average_pool
        return pool(
            inputs,
            pool_size=self.pool_size,
            strides=self.stride,
            padding="same",
            data_format=DATA_FORMAT,
        )


@keras.saving.register_keras_serializable(package=_PACKAGE)
class ReLUConvBN(Op):
    """ReLU, a `kernel_size` convolution (no bias), BatchNormalization.

    DARTS's cell preprocessing and NAS-Bench-201's `nor_conv_1x1` and
    `nor_conv_3x3`.

    Args:
        channels: number of output channels.
        kernel_size: the square kernel's side, a positive integer.
        stride: 1 or 2.
        affine: whether the BatchNormalization has a learned centre and
            scale.
        **kwargs: passed to `keras.layers.Layer` (e.g. `name`, `dtype`).
    """

    ARGUMENTS = ("channels", "kernel_size", "stride", "affine")

    def __init__(self, channels, kernel_size, stride=1, affine=True, **kw):
        super().__init__(channels, kernel_size, stride, affine, **kw)
        dtype = self.dtype_policy
        self.conv = conv(channels, kernel_size, stride, dtype=dtype)
        self.bn = batch_norm(affine, dtype)

    def build(self, input_shape):
        build_in_order([self.conv, self.bn], input_shape)

    def call(self, inputs, training=None):
        x = self.conv(keras.ops.relu(inputs))
        return self.bn(x, training=training)


@keras.saving.register_keras_serializable(package=_PACKAGE)
class FactorizedReduce(Op):
    """Halves the resolution with two offset 1x1 stride-2 convolutions.

    ReLU; one 1x1 stride-2 convolution reads the even pixels (0, 2, ...),
    the other the odd ones (the input shifted by one pixel); their outputs,
    `channels // 2` each, are concatenated and batch-normalized. This is
    `skip_connect` at stride 2 and DARTS's preprocessing of a cell that
    follows a reduction.

    On an odd size the shifted input is one pixel short, so it is padded
    with one zero row (column) after its end: both halves then give
    `ceil(H / 2)` and the last odd-path sample is that zero padding. When
    the size is even, or unknown until run time, the result is the same as
    DARTS's.

    Args:
        channels: number of output channels, even.
        affine: whether the BatchNormalization has a learned centre and
            scale.
        **kwargs: passed to `keras.layers.Layer` (e.g. `name`, `dtype`).
    """

    ARGUMENTS = ("channels", "affine")
    stride = 2

    def __init__(self, channels, affine=True, **kwargs):
        super().__init__(channels, affine, **kwargs)
        if channels % 2:
            raise ValueError(
                "FactorizedReduce: channels must be even (two halves of "
                f"channels // 2); got {channels}."
            )
        dtype = self.dtype_policy
        half = channels // 2
        self.conv_even = conv(half, 1, 2, padding="valid", dtype=dtype)
        self.conv_odd = conv(half, 1, 2, padding="valid", dtype=dtype)
        self.bn = batch_norm(affine, dtype)

    def build(self, input_shape):
        self.conv_even.build(input_shape)
        self.conv_odd.build(input_shape)
        self.bn.build(self.compute_output_shape(input_shape))

    def call(self, inputs, training=None):
        x = keras.ops.relu(inputs)
        _, height, width, _ = inputs.shape
        # One zero row (column) after the end unless the size is known to
        # be even; with it, the shifted path also gives ceil(size / 2).
        pad_h = 0 if height is not None and height % 2 == 0 else 1
        pad_w = 0 if width is not None and width % 2 == 0 else 1
        shifted = x[:, 1:, 1:, :]
        if pad_h or pad_w:
            shifted = keras.ops.pad(
                shifted, [[0, 0], [0, pad_h], [0, pad_w], [0, 0]]
            )
        x = keras.ops.concatenate(
            [self.conv_even(x), self.conv_odd(shifted)], axis=-1
        )
        return self.bn(x, training=training)


@keras.saving.register_keras_serializable(package=_PACKAGE)
class SepConv(Op):
    """DARTS's separable convolution, applied twice.

    Twice [ReLU, depthwise kxk, pointwise 1x1, BatchNormalization]; only the
    first depthwise convolution is strided. Both pointwise convolutions
    output `channels` (DARTS's first one keeps the input's channels, the
    same thing whenever input and output channels agree, as in a cell).

    Args:
        channels: number of output channels.
        kernel_size: the square depthwise kernel's side (3, 5 or 7 in the
            search spaces).
        stride: 1 or 2.
        affine: whether the BatchNormalizations have a learned centre and
            scale.
        **kwargs: passed to `keras.layers.Layer` (e.g. `name`, `dtype`).
    """

    ARGUMENTS = ("channels", "kernel_size", "stride", "affine")

    def __init__(self, channels, kernel_size, stride=1, affine=True, **kw):
        super().__init__(channels, kernel_size, stride, affine, **kw)
        dtype = self.dtype_policy
        self.depthwise_1 = depthwise(kernel_size, stride, 1, dtype)
        self.pointwise_1 = conv(channels, 1, dtype=dtype)
        self.bn_1 = batch_norm(affine, dtype)
        self.depthwise_2 = depthwise(kernel_size, 1, 1, dtype)
        self.pointwise_2 = conv(channels, 1, dtype=dtype)
        self.bn_2 = batch_norm(affine, dtype)

    def build(self, input_shape):
        build_in_order(
            [
                self.depthwise_1,
                self.pointwise_1,
                self.bn_1,
                self.depthwise_2,
                self.pointwise_2,
                self.bn_2,
            ],
            input_shape,
        )

    def call(self, inputs, training=None):
        x = self.pointwise_1(self.depthwise_1(keras.ops.relu(inputs)))
        x = self.bn_1(x, training=training)
        x = self.pointwise_2(self.depthwise_2(keras.ops.relu(x)))
        return self.bn_2(x, training=training)


@keras.saving.register_keras_serializable(package=_PACKAGE)
class DilConv(Op):
    """ReLU, dilated depthwise kxk, pointwise 1x1, BatchNormalization.

    At stride 2 with an even dilation `d`, a SAME-padded kernel only reads
    pixels of its centre's parity, so it is computed exactly as a kernel of
    dilation `d // 2`, stride 1, on those pixels alone: `x[:, o::2, o::2]`
    with `o` the parity TF's SAME padding gives the centres (1 on an even
    size, 0 on an odd one). That is a quarter of the work of the strided
    dilated convolution and needs no padding op; the result equals
    `DepthwiseConv2D(k, strides=2, dilation_rate=d, padding="same")`.

    Args:
        channels: number of output channels.
        kernel_size: the square depthwise kernel's side (3 or 5 in the
            search spaces).
        stride: 1 or 2.
        dilation: the depthwise kernel's dilation rate (2 in the search
            spaces).
        affine: whether the BatchNormalization has a learned centre and
            scale.
        **kwargs: passed to `keras.layers.Layer` (e.g. `name`, `dtype`).
    """

    ARGUMENTS = ("channels", "kernel_size", "stride", "dilation", "affine")

    def __init__(
        self, channels, kernel_size, stride=1, dilation=2, affine=True, **kw
    ):
        super().__init__(channels, kernel_size, stride, dilation, affine, **kw)
        dtype = self.dtype_policy
        # The parity trick of the class docstring.
        self._subsample = stride == 2 and dilation % 2 == 0
        if self._subsample:
            self.depthwise = depthwise(kernel_size, 1, dilation // 2, dtype)
        else:
            self.depthwise = depthwise(kernel_size, stride, dilation, dtype)
        self.pointwise = conv(channels, 1, dtype=dtype)
        self.bn = batch_norm(affine, dtype)

    def build(self, input_shape):
        build_in_order([self.depthwise, self.pointwise, self.bn], input_shape)

    def call(self, inputs, training=None):
        x = keras.ops.relu(inputs)
        if self._subsample:
            shape = keras.ops.shape(x)
            offset_h = 1 - shape[1] % 2
            offset_w = 1 - shape[2] % 2
            x = x[:, offset_h::2, offset_w::2, :]
        x = self.pointwise(self.depthwise(x))
        return self.bn(x, training=training)


@keras.saving.register_keras_serializable(package=_PACKAGE)
class Conv1x7Conv7x1(Op):
    """`conv_7x1_1x7`: ReLU, a 1x7 then a 7x1 convolution, BN.

    The 1x7 convolution strides the width, the 7x1 the height, as in
    DARTS.

    Args:
        channels: number of output channels.
        stride: 1 or 2.
        affine: whether the BatchNormalization has a learned centre and
            scale.
        **kwargs: passed to `keras.layers.Layer` (e.g. `name`, `dtype`).
    """

    ARGUMENTS = ("channels", "stride", "affine")

    def __init__(self, channels, stride=1, affine=True, **kwargs):
        super().__init__(channels, stride, affine, **kwargs)
        dtype = self.dtype_policy
        self.conv_1x7 = conv(channels, (1, 7), (1, stride), dtype=dtype)
        self.conv_7x1 = conv(channels, (7, 1), (stride, 1), dtype=dtype)
        self.bn = batch_norm(affine, dtype)

    def build(self, input_shape):
        build_in_order([self.conv_1x7, self.conv_7x1, self.bn], input_shape)

    def call(self, inputs, training=None):
        x = self.conv_7x1(self.conv_1x7(keras.ops.relu(inputs)))
        return self.bn(x, training=training)


def _skip_connect(channels, stride, affine, **kwargs):
    if stride == 1:
        return Identity(**kwargs)
    return FactorizedReduce(channels, affine=affine, **kwargs)


# Every candidate op of both search spaces, by name:
# OPS[name](channels, stride, affine, **layer_kwargs) -> keras.layers.Layer.
OPS = {
    "none": lambda c, stride, affine, **kw: Zero(stride, **kw),
    "avg_pool_3x3": lambda c, stride, affine, **kw: Pooling(
        "avg", 3, stride, **kw
    ),
    "max_pool_3x3": lambda c, stride, affine, **kw: Pooling(
        "max", 3, stride, **kw
    ),
    "skip_connect": _skip_connect,
    "sep_conv_3x3": lambda c, stride, affine, **kw: SepConv(
        c, 3, stride, affine, **kw
    ),
    "sep_conv_5x5": lambda c, stride, affine, **kw: SepConv(
        c, 5, stride, affine, **kw
    ),
    "sep_conv_7x7": lambda c, stride, affine, **kw: SepConv(
        c, 7, stride, affine, **kw
    ),
    "dil_conv_3x3": lambda c, stride, affine, **kw: DilConv(
        c, 3, stride, 2, affine, **kw
    ),
    "dil_conv_5x5": lambda c, stride, affine, **kw: DilConv(
        c, 5, stride, 2, affine, **kw
    ),
    "conv_7x1_1x7": lambda c, stride, affine, **kw: Conv1x7Conv7x1(
        c, stride, affine, **kw
    ),
    "nor_conv_1x1": lambda c, stride, affine, **kw: ReLUConvBN(
        c, 1, stride, affine, **kw
    ),
    "nor_conv_3x3": lambda c, stride, affine, **kw: ReLUConvBN(
        c, 3, stride, affine, **kw
    ),
}


def make_op(name, channels, stride=1, affine=True, **kwargs):
    """Builds the candidate op `name`, with a clear error if it is unknown.

    Args:
        name: a key of `OPS`.
        channels: number of output channels.
        stride: 1 or 2.
        affine: whether the op's BatchNormalizations have a learned centre
            and scale.
        **kwargs: passed to the layer (e.g. `name`, `dtype`).

    Returns:
        A new, unbuilt `keras.layers.Layer`.

    Raises:
        ValueError: `name` is not a known op, or an argument is invalid.
    """
    try:
        factory = OPS[name]
    except (KeyError, TypeError):
        raise ValueError(
            f"Unknown op {name!r}; known ops: {', '.join(OPS)}."
        ) from None
    check_arguments(name, channels=channels, stride=stride, affine=affine)
    return factory(channels, stride, affine, **kwargs)
