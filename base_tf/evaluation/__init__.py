"""The derived network: a genotype built as an ordinary Keras model.

* `network`: `build_network(genotype, num_classes, image_shape)` for any
  space, `count_parameters` (DARTS's counting), `inference_model`,
  drop-path's schedule.
* `darts_network`: DARTS's CIFAR evaluation network (cells, auxiliary
  head, drop-path).
* `nas_bench_201_network`: NAS-Bench-201's network.
* `augmentation`: pad-and-crop, flip and cutout as Keras layers for
  tf.data.
"""

from base_tf.evaluation.augmentation import Cutout, RandomCropFlip, scaled
from base_tf.evaluation.darts_network import (
    AuxiliaryHead,
    DartsCell,
    drop_path,
)
from base_tf.evaluation.nas_bench_201_network import (
    NasBench201Cell,
    ResidualReduction,
)
from base_tf.evaluation.network import (
    CIFAR10_MEAN,
    CIFAR10_STD,
    DropPathSchedule,
    build_network,
    count_parameters,
    has_auxiliary,
    inference_model,
    set_drop_path_rate,
    space_of,
)

__all__ = [
    "CIFAR10_MEAN",
    "CIFAR10_STD",
    "AuxiliaryHead",
    "Cutout",
    "DartsCell",
    "DropPathSchedule",
    "NasBench201Cell",
    "RandomCropFlip",
    "ResidualReduction",
    "build_network",
    "count_parameters",
    "drop_path",
    "has_auxiliary",
    "inference_model",
    "scaled",
    "set_drop_path_rate",
    "space_of",
]
