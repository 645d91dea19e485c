"""The layers candidate ops are made of, with DARTS's conventions.

The candidate ops (`operations`) and the evaluation networks' stems, heads
and shortcuts (`base_tf.evaluation`) are built from these, so that every
convolution and BatchNormalization of the project follows one set of rules:

* Tensors are channels-last (NHWC).
* Spatial padding is TensorFlow's SAME. At stride 1 it is the symmetric
  padding of DARTS. At stride 2 on an even size, TF puts the extra padding
  after (bottom/right), so the window centres fall on pixels 1, 3, 5, ...
  rather than PyTorch's 0, 2, 4, ...; every op with a window larger than
  1x1 follows that same TF rule, so their outputs stay aligned, and a
  stride-2 output is `ceil(H / 2) x ceil(W / 2)` (`strided_shape`).
* Convolutions have no bias (a BatchNormalization follows each one).
* BN uses PyTorch's defaults, as DARTS does: momentum 0.1 in PyTorch's
  sense (`BN_MOMENTUM = 0.9` in Keras's) and epsilon `BN_EPSILON = 1e-5`.
  `affine=False` gives BN without centre and scale, the supernet's BN in
  DARTS; moving statistics are kept either way.
"""

import keras

BN_MOMENTUM = 0.9
BN_EPSILON = 1e-5

DATA_FORMAT = "channels_last"


def _reduced(size, stride):
    """The size `ceil(size / stride)` of a SAME-padded strided output."""
    if size is None or stride == 1:
        return size
    return (size + stride - 1) // stride


def strided_shape(input_shape, stride, channels=None):
    """The NHWC shape after a SAME-padded `stride`: `ceil(H / stride)`.

    Args:
        input_shape: `(batch, height, width, channels)`; sizes may be None.
        stride: the stride of height and width.
        channels: the output's channels; None keeps the input's.

    Returns:
        The output shape, a tuple.
    """
    batch, height, width, in_channels = input_shape
    return (
        batch,
        _reduced(height, stride),
        _reduced(width, stride),
        in_channels if channels is None else channels,
    )


def batch_norm(affine=True, dtype=None, name=None):
    """BN with DARTS's (PyTorch's default) momentum and epsilon.

    `affine=False`: no learned centre and scale; `dtype` a dtype policy.
    """
    return keras.layers.BatchNormalization(
        axis=-1,
        momentum=BN_MOMENTUM,
        epsilon=BN_EPSILON,
        center=affine,
        scale=affine,
        dtype=dtype,
        name=name,
    )


def conv(
    channels, kernel_size, strides=1, padding="same", dtype=None, name=None
):
    """A channels-last convolution without bias (a BN always follows it)."""
    return keras.layers.Conv2D(
        channels,
        kernel_size,
        strides=strides,
        padding=padding,
        use_bias=False,
        data_format=DATA_FORMAT,
        dtype=dtype,
        name=name,
    )


def depthwise(kernel_size, strides, dilation, dtype):
    """A channels-last, SAME-padded depthwise convolution without bias."""
    return keras.layers.DepthwiseConv2D(
        kernel_size,
        strides=strides,
        padding="same",
        dilation_rate=dilation,
        use_bias=False,
        data_format=DATA_FORMAT,
        dtype=dtype,
    )


def build_in_order(layers, input_shape):
    """Builds `layers` in order, each on its predecessor's output shape.

    Args:
        layers: Keras layers, each applied to the previous one's output.
        input_shape: the first layer's input shape.

    Returns:
        The last layer's output shape.
    """
    shape = input_shape
    for layer in layers:
        layer.build(shape)
        shape = layer.compute_output_shape(shape)
    return shape
