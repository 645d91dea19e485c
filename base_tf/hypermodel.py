"""The derived network as a keras-tuner hypermodel, and the images it takes.

    hypermodel = DerivedNetwork("darts", num_classes=10,
                                image_shape=(16, 16, 3))
    tuner = keras_tuner.Tuner(oracle=BASEOracle(...), hypermodel=hypermodel,
                              directory="runs/search", project_name="base")

`DerivedNetwork.build` reads the trial's genotype off its hyperparameters
(`hyperparameters.declare`); `DerivedNetwork.fit` refuses images that are
not floats in [0, 1] (`check_images`).
"""

import keras
import keras_tuner
import numpy as np
import tensorflow as tf

from base_tf import evaluation, hyperparameters, optimizers, search_space

# How far outside [0, 1] image values may lie (resizing can overshoot).
_SLACK = 0.1


def _check_space(hp, space):
    """Refuses `hp` when it holds another search space's choices.

    `hyperparameters.declare` gives a choice it does not find its default,
    so a hypermodel of one space under an oracle of the other would train
    networks of default cells, unrelated to the oracle's proposals.
    """
    have = {parameter.name for parameter in hp.space}
    for other in search_space.SPACES.values():
        if other.name != space.name and have & hyperparameters.names(other):
            raise keras_tuner.errors.FatalValueError(
                f"DerivedNetwork({space.name!r}) was given the "
                f"hyperparameters of the {other.name} space (e.g. "
                f"{sorted(have & hyperparameters.names(other))[0]}): its "
                f"networks would not be the proposed architectures. Use "
                f"DerivedNetwork({other.name!r}), the space of the oracle's "
                "posterior."
            )


def check_images(images, what="images"):
    """Refuses images that are not floats in [0, 1].

    The derived networks standardise float images in [0, 1] and do not
    rescale: uint8 images in 0..255 (or floats in 0..255) would train a
    network on inputs 255 times too large without any error, so they are
    refused. Checked: the dtype, and the values of the first batch.

    Args:
        images: a `tf.data.Dataset` of (images, labels) or of images, or an
            array or tensor of images; anything else is not checked.
        what: how the message names them.

    Raises:
        keras_tuner.errors.FatalValueError: integer images, or values
            outside [0, 1] (a little slack is left for resizing's
            overshoot).
    """
    if isinstance(images, tf.data.Dataset):
        spec = images.element_spec
        if isinstance(spec, tuple):
            spec = spec[0]
        if not isinstance(spec, tf.TensorSpec):
            return
        dtype = spec.dtype
        first = next(iter(images.take(1)), None)
        if isinstance(first, tuple):
            first = first[0]
    elif isinstance(images, (np.ndarray, tf.Tensor)):
        dtype = tf.as_dtype(images.dtype)
        first = images
    else:
        return
    if not dtype.is_floating:
        raise keras_tuner.errors.FatalValueError(
            f"The {what} are {dtype.name}; DerivedNetwork's networks take "
            "float images in [0, 1]: convert them with "
            "tf.image.convert_image_dtype(images, tf.float32) (uint8 / 255)."
        )
    if first is None or not np.size(first):
        return
    low, high = float(np.min(first)), float(np.max(first))
    if low < -_SLACK or high > 1 + _SLACK:
        raise keras_tuner.errors.FatalValueError(
            f"The {what} hold values in [{low:g}, {high:g}]; DerivedNetwork's "
            "networks take float images in [0, 1] (they standardise them "
            "themselves): divide 0..255 pixels by 255, and do not "
            "standardise them first."
        )


class DerivedNetwork(keras_tuner.HyperModel):
    """The derived network of a trial's architecture, compiled to train.

    `build(hp)` reads the genotype off the trial's hyperparameters
    (`hyperparameters.declare`) and builds its network
    (`evaluation.build_network`, without the auxiliary head: trials are
    short) with DARTS's optimizer (`optimizers.DartsSGD`: SGD, momentum, L2
    weight decay as PyTorch applies it) and global-norm gradient clipping.
    It refuses the hyperparameters of the other search space (a
    `BASEOracle` over another space than `space`): keras-tuner's `Tuner`
    then fails as it is made.

    `fit` trains it as `keras.Model.fit` does, after `check_images` on the
    training and validation images: the networks take float32 images in
    [0, 1]; integer images (uint8 0..255) or values far outside [0, 1] are
    refused before the first trial trains, not converted.

    Args:
        space: the search space's name ("darts" or "nas_bench_201").
        num_classes: the classes of the dataset.
        image_shape: (height, width, channels) of the [0, 1] float images.
        channels, num_cells: the network's size (see `build_network`).
        learning_rate, momentum, weight_decay, grad_clip: the optimizer.
        mean, std: the per-channel standardisation (see `build_network`).
        **kwargs: for `keras_tuner.HyperModel` (name, tunable).
    """

    def __init__(
        self,
        space,
        num_classes,
        image_shape,
        channels=None,
        num_cells=None,
        learning_rate=0.025,
        momentum=0.9,
        weight_decay=3e-4,
        grad_clip=5.0,
        mean=None,
        std=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.space = search_space.get_space(space)
        self.num_classes = num_classes
        self.image_shape = tuple(image_shape)
        self.channels, self.num_cells = channels, num_cells
        self.learning_rate, self.momentum = learning_rate, momentum
        self.weight_decay, self.grad_clip = weight_decay, grad_clip
        self.mean, self.std = mean, std

    def build(self, hp):
        _check_space(hp, self.space)
        genotype = hyperparameters.declare(hp, self.space)
        model = evaluation.build_network(
            genotype,
            self.num_classes,
            self.image_shape,
            channels=self.channels,
            num_cells=self.num_cells,
            mean=self.mean,
            std=self.std,
        )
        model.compile(
            optimizer=optimizers.DartsSGD(
                self.learning_rate,
                momentum=self.momentum,
                l2=self.weight_decay,
                global_clipnorm=self.grad_clip,
            ),
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            metrics=["accuracy"],
        )
        return model

    def fit(self, hp, model, x=None, *args, validation_data=None, **kwargs):
        check_images(x, "training images")
        if isinstance(validation_data, (tuple, list)) and validation_data:
            check_images(validation_data[0], "validation images")
        elif validation_data is not None:
            check_images(validation_data, "validation images")
        return model.fit(x, *args, validation_data=validation_data, **kwargs)
