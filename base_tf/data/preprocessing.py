"""One image format for every task: size, channels and value range.

Tasks drawn from different datasets feed one supernet, so every image is
brought to the same `ImageSpec` (height, width, channels) when a dataset split
is materialised, and stored as uint8. Batches are turned into float32 in
[0, 1] only when they are served (`to_float`): no per-channel standardisation
is applied, because a mixture of datasets has no single mean and standard
deviation; a model that wants one can start with a normalisation layer.
"""

import dataclasses

import tensorflow as tf

from base_tf.data.errors import DataError

SUPPORTED_CHANNELS = (1, 3)


@dataclasses.dataclass(frozen=True)
class ImageSpec:
    """The size and channel count every served image has.

    Args:
        height: Image height in pixels, a positive int.
        width: Image width in pixels, a positive int.
        channels: 3 (RGB; grey images are repeated over the channels) or 1
            (grey; RGB images are converted with the ITU-R 601 luma weights).
    """

    height: int = 32
    width: int = 32
    channels: int = 3

    def __post_init__(self):
        for field in ("height", "width"):
            value = getattr(self, field)
            if not _is_int(value) or value < 1:
                raise DataError(
                    f"ImageSpec.{field} must be a positive int, got {value!r}."
                )
        if not _is_int(self.channels) or (
            self.channels not in SUPPORTED_CHANNELS
        ):
            raise DataError(
                f"ImageSpec.channels must be one of {SUPPORTED_CHANNELS} "
                f"(grey or RGB), got {self.channels!r}."
            )

    @property
    def shape(self):
        """The image shape `(height, width, channels)`."""
        return (self.height, self.width, self.channels)


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def convert_images(images, spec):
    """Brings uint8 images to `spec`'s size and channels, still uint8.

    Resizing is bilinear with antialiasing (so downsampling averages rather
    than aliases); values are rounded back to uint8. Channels: grey to RGB
    repeats the grey channel, RGB to grey uses `tf.image.rgb_to_grayscale`, an
    alpha channel (RGBA, grey+alpha) is dropped. Images already in the right
    format pass through unchanged.

    Args:
        images: uint8 tensor `[height, width, c]` or `[batch, height, width,
            c]`, with c in (1, 2, 3, 4) known statically.
        spec: The target `ImageSpec`.

    Returns:
        A uint8 tensor `[..., spec.height, spec.width, spec.channels]`.

    Raises:
        DataError: If the channel count is unknown or unsupported.
    """
    images = tf.convert_to_tensor(images)
    channels = images.shape[-1]
    if channels is None or channels not in (1, 2, 3, 4):
        raise DataError(
            f"Cannot convert images with {channels} channels: expected 1 "
            "(grey), 2 (grey+alpha), 3 (RGB) or 4 (RGBA)."
        )
    if channels in (2, 4):  # Drop the alpha channel.
        images = images[..., : channels - 1]
        channels -= 1
    # Shrink the channel count before resizing and grow it after, so the
    # resize works on as few channels as possible.
    if channels > spec.channels:
        images = _to_uint8(
            tf.image.rgb_to_grayscale(tf.cast(images, "float32"))
        )
    images = _resize(images, spec)
    if channels < spec.channels:
        images = tf.image.grayscale_to_rgb(images)
    return images


def _resize(images, spec):
    height, width = images.shape[-3], images.shape[-2]
    if (height, width) == (spec.height, spec.width):
        return images
    resized = tf.image.resize(
        images, (spec.height, spec.width), method="bilinear", antialias=True
    )
    return _to_uint8(resized)


def _to_uint8(images):
    return tf.cast(tf.clip_by_value(tf.round(images), 0.0, 255.0), tf.uint8)


def to_float(images):
    """Maps uint8 images to float32 in [0, 1] (divides by 255).

    Args:
        images: A uint8 tensor of any shape.

    Returns:
        A float32 tensor of the same shape with values in [0, 1].
    """
    return tf.cast(images, tf.float32) / 255.0
