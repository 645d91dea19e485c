"""CIFAR-style augmentation as Keras preprocessing layers for tf.data.

DARTS trains its evaluation networks on CIFAR-10 with (its `train.py`,
`utils._data_transforms_cifar10`):

* a random crop of the image zero-padded by 4 pixels, and a random
  horizontal flip (the CIFAR standard): `RandomCropFlip`;
* cutout (DeVries and Taylor, 2017): one square of side 16, centred on a
  uniformly drawn pixel and clipped at the borders, set to 0 after
  standardisation, i.e. to the mean pixel: `Cutout`.

Sizes are given at 32x32 and scaled with the image (`scaled`): padding 4
and cutout 16 become 2 and 8 at 16x16, 1 and 4 at 8x8.

Both layers draw with stateless random ops from an explicit seed, a
`[2]` int tensor given with each batch (`call(images, seed)`), so an
augmented stream is a function of the seeds alone: the trainer derives
each batch's seed from (run seed, epoch, step), and a resumed run sees
the augmentations an uninterrupted one would have.
"""

import keras
import tensorflow as tf

_PACKAGE = "base_tf"

# At 32x32, from DARTS's CIFAR-10 recipe.
REFERENCE_SIZE = 32
CROP_PADDING = 4
CUTOUT_LENGTH = 16


def scaled(length, size, reference=REFERENCE_SIZE):
    """`length` (given at `reference` pixels) at `size` pixels, >= 1.

    Args:
        length: a length at the reference size, a non-negative int.
        size: the image's side.
        reference: the side `length` is given at.

    Returns:
        `round(length * size / reference)`, at least 1 unless `length` is 0.
    """
    if length == 0:
        return 0
    return max(1, round(length * size / reference))


def _check_seed(seed):
    seed = tf.convert_to_tensor(seed)
    if seed.shape != (2,) or not seed.dtype.is_integer:
        raise ValueError(
            f"seed must be an int tensor of shape [2]; got {seed.dtype.name} "
            f"{seed.shape}."
        )
    return tf.cast(seed, tf.int64)


def _split(seed, count):
    return tf.unstack(tf.random.experimental.stateless_split(seed, count))


@keras.saving.register_keras_serializable(package=_PACKAGE)
class RandomCropFlip(keras.layers.Layer):
    """Zero-pads by `padding`, crops back at random, flips left-right at random.

    Each example of the batch gets its own crop offset, uniform in
    [0, 2 * padding] on each axis, and is flipped with probability 1/2.

    Args:
        padding: (rows, columns) of zero padding on each side, or one int
            for both; 0 turns the crop off.
        flip: whether to flip.
        **kwargs: passed to `keras.layers.Layer`.
    """

    def __init__(self, padding=CROP_PADDING, flip=True, **kwargs):
        super().__init__(**kwargs)
        if isinstance(padding, int):
            padding = (padding, padding)
        padding = tuple(padding)
        if len(padding) != 2 or any(
            isinstance(p, bool) or not isinstance(p, int) or p < 0
            for p in padding
        ):
            raise ValueError(
                "padding must be a non-negative int or a pair of them; got "
                f"{padding!r}."
            )
        self.padding = padding
        self.flip = bool(flip)

    def call(self, images, seed):
        seed = _check_seed(seed)
        crop_seed, flip_seed = _split(seed, 2)
        images = tf.convert_to_tensor(images)
        shape = tf.shape(images)
        batch, height, width = shape[0], shape[1], shape[2]
        pad_h, pad_w = self.padding
        if pad_h or pad_w:
            padded = tf.pad(
                images, [[0, 0], [pad_h, pad_h], [pad_w, pad_w], [0, 0]]
            )
            offsets = tf.random.stateless_uniform(
                [batch, 2],
                crop_seed,
                minval=0,
                maxval=tf.int32.max,
                dtype=tf.int32,
            ) % tf.constant([2 * pad_h + 1, 2 * pad_w + 1])
            rows = offsets[:, :1] + tf.range(height)[None, :]
            cols = offsets[:, 1:] + tf.range(width)[None, :]
            images = tf.gather(padded, rows, axis=1, batch_dims=1)
            images = tf.gather(images, cols, axis=2, batch_dims=1)
        if self.flip:
            flips = tf.random.stateless_uniform([batch], flip_seed) < 0.5
            images = tf.where(
                flips[:, None, None, None], tf.reverse(images, [2]), images
            )
        return images

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return {
            **super().get_config(),
            "padding": list(self.padding),
            "flip": self.flip,
        }


@keras.saving.register_keras_serializable(package=_PACKAGE)
class Cutout(keras.layers.Layer):
    """Cutout: one `length` square per image set to `fill`.

    DARTS's `Cutout`: the centre (y, x) is uniform over the pixels; rows
    max(0, y - L // 2) .. min(H, y + L // 2) - 1 and the same columns are
    replaced. DARTS cuts out after standardisation, setting the square to
    0, the mean pixel: here images are in [0, 1] (the network standardises
    them), so `fill` is the per-channel mean, which the network maps to 0.

    Args:
        length: the square's side (rows, columns), or one int for both;
            0 turns cutout off.
        fill: the value of the cut-out pixels: a float or one per channel.
        **kwargs: passed to `keras.layers.Layer`.
    """

    def __init__(self, length=CUTOUT_LENGTH, fill=0.0, **kwargs):
        super().__init__(**kwargs)
        if isinstance(length, int):
            length = (length, length)
        length = tuple(length)
        if len(length) != 2 or any(
            isinstance(v, bool) or not isinstance(v, int) or v < 0
            for v in length
        ):
            raise ValueError(
                "length must be a non-negative int or a pair of them; got "
                f"{length!r}."
            )
        self.length = length
        self.fill = (
            [float(v) for v in fill]
            if isinstance(fill, (list, tuple))
            else float(fill)
        )

    def call(self, images, seed):
        seed = _check_seed(seed)
        images = tf.convert_to_tensor(images)
        if not any(self.length):
            return images
        shape = tf.shape(images)
        batch, height, width = shape[0], shape[1], shape[2]
        centres = tf.random.stateless_uniform(
            [batch, 2], seed, minval=0, maxval=tf.int32.max, dtype=tf.int32
        ) % tf.stack([height, width])
        half_h, half_w = self.length[0] // 2, self.length[1] // 2
        rows = tf.range(height)[None, :]
        cols = tf.range(width)[None, :]
        in_rows = (rows >= centres[:, :1] - half_h) & (
            rows < centres[:, :1] + half_h
        )
        in_cols = (cols >= centres[:, 1:] - half_w) & (
            cols < centres[:, 1:] + half_w
        )
        mask = in_rows[:, :, None, None] & in_cols[:, None, :, None]
        fill = tf.cast(tf.constant(self.fill), images.dtype)
        return tf.where(mask, fill + tf.zeros_like(images), images)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return {
            **super().get_config(),
            "length": list(self.length),
            "fill": self.fill,
        }
