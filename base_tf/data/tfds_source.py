"""A prepared TFDS image-classification dataset as a source: `TfdsSource`.

Nothing is ever downloaded: a TFDS dataset must already be prepared, and a
name TFDS does not know, a dataset that is not image classification or one
that is not prepared is refused with what to do about it. A large split is
read example by example for each task (`random_access`), a small one is
materialised in memory (`Source.materialize`).
"""

import difflib
import os

import numpy as np
import tensorflow_datasets as tfds

from base_tf.data import random_access as random_access_lib
from base_tf.data.base_source import Source
from base_tf.data.errors import DataError
from base_tf.data.image_folder_source import FOLDER_LAYOUT
from base_tf.data.preprocessing import ImageSpec

# Datasets whose raw files this project ships, and how to prepare them.
_SHARED_DATASETS = ("cifar10", "mnist", "fashion_mnist")
_SHARED_PREPARE_COMMAND = (
    "python ../shared/data/prepare_tfds.py --out ~/tensorflow_datasets"
)
# A TFDS split whose decoded images would take more than this is read
# example by example for each task, when its ArrayRecord copy exists (see
# TfdsSource); smaller ones are materialised, which samples tasks faster
# (benchmarks/task_sampling.py).
IN_MEMORY_LIMIT_BYTES = 2**30


class TfdsSource(Source):
    """A prepared TFDS image-classification dataset.

    The dataset must be prepared in `data_dir` (TFDS's default: the
    `TFDS_DATA_DIR` environment variable, else `~/tensorflow_datasets`); this
    class never downloads. Its features named by `supervised_keys` must be an
    `Image` and a `ClassLabel`.

    Args:
        name: A TFDS name as `tfds.builder` takes it: "cifar10", "mnist",
            "emnist/balanced", "cifar10:3.0.2", ...
        data_dir: The folder holding prepared TFDS datasets, or None for the
            TFDS default.
        random_access: How tasks read a split (`task_split`). True: only the
            examples each task takes, through TFDS's random-access data
            source (the dataset needs its ArrayRecord copy, see
            `random_access.add_array_record`). False: the whole split is
            materialised in memory once. None (default): random access for
            a split that has the ArrayRecord copy and whose decoded images
            would exceed `IN_MEMORY_LIMIT_BYTES`, else in memory.

    Raises:
        DataError: If the name is unknown, the dataset is not an image
            classification dataset, or it is not prepared in `data_dir`, or
            random access is asked of a dataset without ArrayRecord files.
    """

    def __init__(self, name, data_dir=None, random_access=None):
        if not isinstance(name, str) or not name.strip():
            raise DataError(
                f"A TFDS dataset name must be a non-empty str, got {name!r}."
            )
        name = name.strip()
        _check_known_builder(name)
        try:
            builder = tfds.builder(name, data_dir=data_dir)
        except Exception as error:  # TFDS raises several types here.
            raise DataError(
                f"TFDS cannot open dataset {name!r}: {error}"
            ) from error
        self._builder = builder
        self._image_key, self._label_key = _supervised_image_keys(builder, name)
        if not builder.is_prepared():
            raise DataError(_not_prepared_message(name, builder, data_dir))
        self.name = name
        features = builder.info.features
        self.class_names = tuple(features[self._label_key].names)
        self.splits = tuple(
            split
            for split, info in builder.info.splits.items()
            if info.num_examples > 0
        )
        self._image_shape = tuple(features[self._image_key].shape)
        self._data_dir = data_dir
        if random_access and not random_access_lib.has_array_record(builder):
            raise DataError(
                f"TFDS dataset {name!r} has no ArrayRecord files in "
                f"{builder.data_dir}, which random access reads: add them "
                "with base_tf.data.random_access.add_array_record(builder) "
                "(for tiny_imagenet: `python -m base_tf.data.prepare "
                "tiny_imagenet`), or pass random_access=False."
            )
        self._random_access = random_access

    @property
    def builder(self):
        """The `tfds.core.DatasetBuilder` behind the source."""
        return self._builder

    def class_id(self, class_ref):
        """The class id of `class_ref`: an id, a class name or, for a
        dataset whose metadata lists its classes' WordNet ids (`wnids`, as
        `tiny_imagenet`'s does), a WordNet id such as "n02124075"."""
        if isinstance(class_ref, str) and class_ref not in self.class_names:
            metadata = self._builder.info.metadata or {}
            wnids = list(metadata.get("wnids", ()))
            if class_ref in wnids:
                return wnids.index(class_ref)
        return super().class_id(class_ref)

    def num_examples(self, split):
        self.check_split(split)
        return self._builder.info.splits[split].num_examples

    def _static_image_shape(self):
        if None in self._image_shape:
            return None
        return self._image_shape

    def reads_randomly(self, split, image_spec=None):
        """Whether `task_split(split, image_spec)` reads example by example."""
        if self._random_access is not None:
            return self._random_access
        if not random_access_lib.has_array_record(self._builder):
            return False
        shape = self._static_image_shape() or (256, 256, 3)
        image_spec = image_spec or ImageSpec()
        pixels = max(int(np.prod(shape)), int(np.prod(image_spec.shape)))
        return self.num_examples(split) * pixels > IN_MEMORY_LIMIT_BYTES

    def task_split(self, split, image_spec=None):
        """The split as tasks draw from it (see `random_access`).

        Returns:
            A `MaterializedSplit`, or a `random_access.RandomAccessSplit`
            that reads only the examples a task indexes.
        """
        image_spec = image_spec or ImageSpec()
        if not self.reads_randomly(split, image_spec):
            return self.materialize(split, image_spec)
        self.check_split(split)
        # A builder of its own: random access switches its info's file
        # format, which as_dataset must not see.
        return self._cached(
            ("random_access", self._cache_key(), split, image_spec),
            lambda: random_access_lib.RandomAccessSplit(
                self.name,
                tfds.builder(self.name, data_dir=self._data_dir),
                split,
                image_spec,
                self.num_classes,
            ),
        )

    def _examples(self, split):
        return self._builder.as_dataset(
            split=split, shuffle_files=False, as_supervised=True
        )

    def _cache_key(self):
        return (
            "tfds",
            self._builder.info.full_name,
            os.path.realpath(os.fspath(self._builder.data_dir)),
        )


def _check_known_builder(name):
    base = name.split("/")[0].split(":")[0]
    # Community datasets would make TFDS probe cloud storage (seconds, and
    # a credentials warning offline); only TFDS's own builders are names here.
    known = tfds.list_builders(with_community_datasets=False)
    if base in known:
        return
    close = difflib.get_close_matches(base, known, n=3, cutoff=0.6)
    hint = (
        f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
    )
    folder_hint = ""
    if os.path.isdir(os.path.expanduser(name)):
        folder_hint = (
            f" A folder {name!r} exists here: to use it, write it as a path "
            f"({'./' + name!r})."
        )
    raise DataError(
        f"Unknown TFDS dataset {name!r}.{hint} `tfds.list_builders()` lists "
        "the names TFDS knows; for your own images pass a folder path laid "
        f"out as {FOLDER_LAYOUT}.{folder_hint}"
    )


def _supervised_image_keys(builder, name):
    features = builder.info.features
    keys = builder.info.supervised_keys
    if (
        isinstance(keys, tuple)
        and len(keys) == 2
        and all(isinstance(k, str) for k in keys)
    ):
        image_key, label_key = keys
        if isinstance(features[image_key], tfds.features.Image) and isinstance(
            features[label_key], tfds.features.ClassLabel
        ):
            return image_key, label_key
    raise DataError(
        f"TFDS dataset {name!r} is not an image-classification dataset: its "
        f"supervised_keys {keys!r} must name an Image feature and a "
        "ClassLabel feature. Choose an image-classification dataset "
        "(e.g. 'cifar10', 'mnist')."
    )


def _not_prepared_message(name, builder, data_dir):
    where = data_dir or (
        "the TFDS default data_dir (TFDS_DATA_DIR, else ~/tensorflow_datasets)"
    )
    message = (
        f"TFDS dataset {name!r} is not prepared in {where} (looked for "
        f"{builder.data_dir}), and base_tf never downloads (this machine may "
        "be offline). Prepare it where TFDS can build it (`tfds build "
        f"{name}`), then point data_dir (--data_dir, or TFDS_DATA_DIR) at "
        "the folder that holds it."
    )
    if name.split(":")[0] in _SHARED_DATASETS:
        message += (
            f" For {name.split(':')[0]}, prepare it offline from the "
            f"project's files: `{_SHARED_PREPARE_COMMAND}`."
        )
    if name.split(":")[0] == "tiny_imagenet":
        message += (
            " For tiny_imagenet, put the official files in TFDS's manual "
            "folder (the project's subset: "
            f"`{_SHARED_PREPARE_COMMAND} tiny_imagenet`), then prepare it: "
            "`python -m base_tf.data.prepare tiny_imagenet` (tools/setup.sh "
            "does both)."
        )
    return message
