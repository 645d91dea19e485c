"""The network of a derived genotype, for any search space, and its tools.

`build_network(genotype, num_classes, image_shape)` builds the network the
genotype's space defines (DARTS: `darts_network`, NAS-Bench-201:
`nas_bench_201_network`) as a functional Keras 3 model whose custom layers
are registered, so `model.save("x.keras")` and `keras.saving.load_model`
round-trip it without `custom_objects`.

Input convention: float32 images `[N, H, W, c]` in [0, 1], what
`base_tf.data` serves. The network standardises them itself with a
`keras.layers.Normalization` holding a fixed per-channel mean and
variance, given to `build_network` (the trainer passes the training set's;
the default is CIFAR-10's, DARTS's constants), so a saved model needs
nothing else from its caller.
"""

import keras
import numpy as np

from base_tf import search_space
from base_tf.evaluation.darts_network import darts_network
from base_tf.evaluation.nas_bench_201_network import nas_bench_201_network

# DARTS's `train.py` standardisation of CIFAR-10 (its `utils.CIFAR_MEAN`,
# `CIFAR_STD`): the per-channel mean and standard deviation of the
# training images in [0, 1].
CIFAR10_MEAN = (0.49139968, 0.48215827, 0.44653124)
CIFAR10_STD = (0.24703233, 0.24348505, 0.26158768)

MIN_IMAGE_SIZE = 8


# The network each space's genotypes define, by the space's name; its
# default size and whether it has an auxiliary head are the space's
# (`SearchSpace.network_size`, `auxiliary_head`).
def _nas_bench_201_network(*args, auxiliary, seed):
    del auxiliary, seed  # No auxiliary head (checked), no drop path.
    return nas_bench_201_network(*args)


_NETWORKS = {"darts": darts_network, "nas_bench_201": _nas_bench_201_network}


def space_of(genotype):
    """The `SearchSpace` of `genotype`.

    Raises:
        ValueError: `genotype` is not a genotype of a known space.
    """
    if isinstance(genotype, str):
        raise ValueError(
            f"genotype must be a genotype (a DartsGenotype or a "
            "NasBench201Genotype; see base_tf.search_space: get_genotype, "
            f"genotype_from_json), not the string {genotype!r}."
        )
    return search_space.space_of(genotype)


def _check_positive_int(value, what):
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{what} must be a positive integer; got {value!r}.")


def _check_image_shape(image_shape):
    if (
        not isinstance(image_shape, (tuple, list))
        or len(image_shape) != 3
        or any(
            isinstance(v, bool) or not isinstance(v, int) or v < 1
            for v in image_shape
        )
    ):
        raise ValueError(
            "image_shape must be (height, width, channels), positive ints; "
            f"got {image_shape!r}."
        )
    height, width, _ = image_shape
    if min(height, width) < MIN_IMAGE_SIZE:
        raise ValueError(
            f"Images of {height}x{width} are too small: the networks reduce "
            f"the resolution twice and need at least {MIN_IMAGE_SIZE}x"
            f"{MIN_IMAGE_SIZE}; resize the images (ImageSpec) to at least "
            "that."
        )
    return tuple(image_shape)


def _standardisation(mean, std, num_channels):
    if mean is None and std is None:
        mean, std = CIFAR10_MEAN, CIFAR10_STD
        if num_channels == 1:
            mean, std = (float(np.mean(mean)),), (float(np.mean(std)),)
    elif mean is None or std is None:
        raise ValueError("Give both mean and std, or neither (CIFAR-10's).")
    mean = np.asarray(mean, np.float64).reshape(-1)
    std = np.asarray(std, np.float64).reshape(-1)
    if mean.shape != (num_channels,) or std.shape != (num_channels,):
        raise ValueError(
            f"mean and std need one value per image channel ({num_channels}); "
            f"got {mean.tolist()} and {std.tolist()}."
        )
    if not np.all(np.isfinite(mean)) or not np.all(std > 0):
        raise ValueError(
            f"std must be positive and mean finite; got mean {mean.tolist()}, "
            f"std {std.tolist()}."
        )
    return [float(m) for m in mean], [float(s) ** 2 for s in std]


def build_network(
    genotype,
    num_classes,
    image_shape=(32, 32, 3),
    channels=None,
    num_cells=None,
    auxiliary=False,
    mean=None,
    std=None,
    seed=None,
):
    """Builds the network of `genotype` as a functional Keras model.

    Args:
        genotype: a `DartsGenotype` or a `NasBench201Genotype`.
        num_classes: the number of classes, a positive int.
        image_shape: (height, width, channels) of the input images; height
            and width at least 8.
        channels: C of the first cells; None: the space's
            `network_size` (40 for DARTS, 16 for NAS-Bench-201).
        num_cells: DARTS: the number of cells; NAS-Bench-201: cells a
            stage. None: the space's `network_size` (20; 5).
        auxiliary: add DARTS's auxiliary head; the model then outputs
            {"logits": ..., "aux_logits": ...} (use `inference_model` for
            the main head alone). DARTS genotypes only.
        mean: per-channel mean of the [0, 1] input images, subtracted
            first; with `std`, None for CIFAR-10's (`CIFAR10_MEAN`).
        std: per-channel standard deviation the images are divided by.
        seed: seeds drop-path's draws (an int), or None.

    Returns:
        A `keras.Model` from float32 images `[N, H, W, c]` in [0, 1] to
        logits `[N, num_classes]` (a dict with the auxiliary head).

    Raises:
        ValueError: an argument is invalid; the message says which.
    """
    space = space_of(genotype)
    _check_positive_int(num_classes, "num_classes")
    image_shape = _check_image_shape(image_shape)
    default_channels, default_cells = space.network_size
    channels = default_channels if channels is None else channels
    num_cells = default_cells if num_cells is None else num_cells
    _check_positive_int(channels, "channels")
    _check_positive_int(num_cells, "num_cells")
    if auxiliary and not space.auxiliary_head:
        raise ValueError(
            "Only DARTS networks have an auxiliary head; build this "
            f"{space.name} network with auxiliary=False (auxiliary weight 0)."
        )
    if seed is not None and (
        isinstance(seed, bool) or not isinstance(seed, int) or seed < 0
    ):
        raise ValueError(
            f"seed must be a non-negative int or None; got {seed!r}."
        )
    mean, variance = _standardisation(mean, std, image_shape[2])
    inputs = keras.Input(image_shape, name="images")
    features = keras.layers.Normalization(
        mean=mean, variance=variance, name="standardise"
    )(inputs)
    return _NETWORKS[space.name](
        genotype,
        num_classes,
        inputs,
        features,
        channels,
        num_cells,
        auxiliary=auxiliary,
        seed=seed,
    )


def has_auxiliary(model):
    """Whether `model` (from `build_network`) outputs auxiliary logits."""
    return isinstance(model.output, dict) and "aux_logits" in model.output


def inference_model(model):
    """The main head of `model`: images -> logits, no auxiliary head.

    Args:
        model: a model from `build_network`.

    Returns:
        A new, uncompiled model sharing `model`'s layers and weights that
        outputs the main logits only (what is saved and served).
    """
    logits = model.output["logits"] if has_auxiliary(model) else model.output
    return keras.Model(model.input, logits, name=model.name)


def count_parameters(model):
    """The parameter count, DARTS's way (`utils.count_parameters_in_MB`).

    Every trainable weight of the inference network; the auxiliary head
    and non-trainable state (BN moving statistics, the standardisation
    constants, drop-path's rate and seeds) are left out.

    Args:
        model: a model from `build_network`.

    Returns:
        An int.
    """
    return int(
        sum(
            np.prod(weight.shape)
            for weight in inference_model(model).trainable_weights
        )
    )


def set_drop_path_rate(model, rate):
    """Sets the drop-path rate of every cell of `model` that has one.

    Args:
        model: a model from `build_network` (NAS-Bench-201 networks have no
            drop-path: nothing happens).
        rate: the probability in [0, 1) of dropping an op's output.

    Returns:
        The number of cells set.

    Raises:
        ValueError: `rate` is not in [0, 1).
    """
    if not 0.0 <= rate < 1.0:
        raise ValueError(f"drop-path rate must be in [0, 1); got {rate!r}.")
    count = 0
    for layer in model.layers:
        variable = getattr(layer, "drop_path_rate", None)
        if variable is not None:
            variable.assign(rate)
            count += 1
    return count


class DropPathSchedule(keras.callbacks.Callback):
    """Ramps the drop-path rate linearly over the epochs, as DARTS does.

    At the start of epoch e (0-based) of E, the rate is

        p_e = drop_path * e / E

    (DARTS's `train.py`: `model.drop_path_prob = args.drop_path_prob *
    epoch / args.epochs`): 0 in the first epoch, `drop_path * (E-1)/E` in
    the last.

    Args:
        drop_path: the final rate, in [0, 1).
        epochs: E, the run's total number of epochs.
    """

    def __init__(self, drop_path, epochs):
        super().__init__()
        if not 0.0 <= drop_path < 1.0:
            raise ValueError(f"drop_path must be in [0, 1); got {drop_path!r}.")
        _check_positive_int(epochs, "epochs")
        self.drop_path = drop_path
        self.epochs = epochs

    def rate(self, epoch):
        """p_e for the 0-based `epoch`."""
        return self.drop_path * epoch / self.epochs

    def on_epoch_begin(self, epoch, logs=None):
        set_drop_path_rate(self.model, self.rate(epoch))
