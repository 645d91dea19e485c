"""What every dataset source is: `Source`, and a split held in memory.

A `Source` knows its name, class names and splits, and materialises a split
as an in-memory uint8 array at a chosen `ImageSpec`, together with its labels
and the example indices of each class (`MaterializedSplit`). A split is read,
decoded and resized once per process (a parallel tf.data map keeps all cores
busy) and cached, so that sampling a task only gathers rows of arrays.

The sources themselves are `tfds_source.TfdsSource` (a prepared TFDS
dataset) and `image_folder_source.ImageFolderSource` (a folder of images);
`sources.load_source` picks the one a spec names.
"""

import abc
import dataclasses
import threading

import numpy as np
import tensorflow as tf

from base_tf.data.errors import DataError
from base_tf.data.preprocessing import ImageSpec, convert_images

_MATERIALIZE_BATCH = 1024


@dataclasses.dataclass(frozen=True, eq=False)
class MaterializedSplit:
    """One split of a source, decoded and resized, held in memory.

    Arrays are read-only: they are shared by every task drawn from the split.

    Args:
        source_name: Name of the source the split comes from.
        split: Name of the split (e.g. "train").
        image_spec: The `ImageSpec` of `images`.
        images: uint8 array `[num_examples, height, width, channels]`, in the
            source's deterministic order.
        labels: int64 array `[num_examples]` of the source's class ids.
        class_indices: For each class id of the source, the sorted int64
            indices of its examples in `images` (empty if it has none).
    """

    source_name: str
    split: str
    image_spec: ImageSpec
    images: np.ndarray
    labels: np.ndarray
    class_indices: tuple

    @property
    def num_examples(self):
        """The number of examples in the split."""
        return len(self.labels)

    def class_counts(self):
        """The number of examples of each class id, as a list of ints."""
        return [len(indices) for indices in self.class_indices]


class Source(abc.ABC):
    """An image-classification dataset that tasks are drawn from.

    Subclasses set the attributes below in their constructor and implement
    `_examples` and `_cache_key`; `materialize` does the rest.

    Attributes:
        name: The source's name, used in messages and to key held-out classes.
        class_names: The class names, indexed by class id.
        splits: The names of the splits that hold examples.
    """

    name: str
    class_names: tuple
    splits: tuple

    @property
    def num_classes(self):
        """The number of classes."""
        return len(self.class_names)

    @abc.abstractmethod
    def num_examples(self, split):
        """The number of examples in `split`."""

    def check_split(self, split):
        """Raises `DataError` unless `split` is one of `self.splits`."""
        if split not in self.splits:
            raise DataError(
                f"{self.name} has no split {split!r}; its splits are "
                f"{list(self.splits)}."
            )

    def class_id(self, class_ref):
        """The class id of `class_ref`, a class id or a class name.

        Raises:
            DataError: If the id is out of range or the name unknown.
        """
        if isinstance(class_ref, (int, np.integer)) and not isinstance(
            class_ref, bool
        ):
            if not 0 <= class_ref < self.num_classes:
                raise DataError(
                    f"Class id {class_ref} is out of range for {self.name}, "
                    f"which has {self.num_classes} classes (ids 0.."
                    f"{self.num_classes - 1})."
                )
            return int(class_ref)
        if isinstance(class_ref, str):
            if class_ref not in self.class_names:
                raise DataError(
                    f"{self.name} has no class named {class_ref!r}; its "
                    f"classes are {list(self.class_names)}."
                )
            return self.class_names.index(class_ref)
        raise DataError(
            f"A class is given by its id (int) or name (str), got "
            f"{class_ref!r} for {self.name}."
        )

    @abc.abstractmethod
    def _examples(self, split):
        """A deterministic `tf.data.Dataset` of (uint8 image, int label)."""

    @abc.abstractmethod
    def _cache_key(self):
        """A hashable value that identifies the data behind the source."""

    def _static_image_shape(self):
        """The images' `(height, width, channels)` if all share it, or None."""
        return None

    def _explain_read_error(self, split):
        """What to do when reading `split` failed."""
        del split  # Unused.
        return "Check that the dataset is intact (prepare it again)."

    def materialize(self, split, image_spec=None):
        """Returns `split` decoded at `image_spec`, read once per process.

        The first call for a (source, split, spec) reads and converts the
        whole split with a parallel, order-preserving tf.data map; later
        calls, from this or any equal source, return the cached value (see
        `clear_cache`).

        Args:
            split: A split name in `self.splits`.
            image_spec: The `ImageSpec` to convert images to; default 32x32x3.

        Returns:
            A `MaterializedSplit`.

        Raises:
            DataError: If the split does not exist or an image cannot be read.
        """
        image_spec = image_spec or ImageSpec()
        if not isinstance(image_spec, ImageSpec):
            raise DataError(
                f"image_spec must be an ImageSpec, got {image_spec!r}."
            )
        self.check_split(split)
        return self._cached(
            (self._cache_key(), split, image_spec),
            lambda: self._read(split, image_spec),
        )

    def _cached(self, key, make):
        """The process's value for `key`, made by `make()` the first time.

        Every split a source reads goes through here, so that equal
        sources share one copy and `clear_cache` frees them all.
        """
        with _CACHE_LOCK:
            if key not in _CACHE:
                _CACHE[key] = make()
            return _CACHE[key]

    def task_split(self, split, image_spec=None):
        """The split as tasks draw from it: by default `materialize`d.

        A subclass may return a split that reads only the examples a task
        takes (see `TfdsSource`); it offers the same attributes.
        """
        return self.materialize(split, image_spec)

    def _read(self, split, image_spec):
        def convert(images, labels):
            return convert_images(images, image_spec), labels

        ds = self._examples(split)
        if self._static_image_shape() is not None:
            # Equal shapes: convert whole batches, fewer and larger ops.
            ds = ds.batch(_MATERIALIZE_BATCH).map(
                convert, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True
            )
        else:
            ds = ds.map(
                convert, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True
            ).batch(_MATERIALIZE_BATCH)
        ds = ds.prefetch(tf.data.AUTOTUNE)
        images, labels = [], []
        try:
            for batch_images, batch_labels in ds.as_numpy_iterator():
                images.append(batch_images)
                labels.append(batch_labels)
        except tf.errors.OpError as error:
            reason = error.message.strip().splitlines()[0].rsplit(": ", 1)[-1]
            raise DataError(
                f"Could not read split {split!r} of {self.name}: {reason} "
                f"{self._explain_read_error(split)}"
            ) from error
        if images:
            images = np.concatenate(images)
            labels = np.concatenate(labels).astype(np.int64)
        else:
            images = np.zeros((0, *image_spec.shape), np.uint8)
            labels = np.zeros((0,), np.int64)
        order = np.argsort(labels, kind="stable")
        bounds = np.searchsorted(labels[order], np.arange(self.num_classes + 1))
        class_indices = tuple(
            order[bounds[c] : bounds[c + 1]].astype(np.int64)
            for c in range(self.num_classes)
        )
        for array in (images, labels, *class_indices):
            array.flags.writeable = False
        return MaterializedSplit(
            source_name=self.name,
            split=split,
            image_spec=image_spec,
            images=images,
            labels=labels,
            class_indices=class_indices,
        )

    def __repr__(self):
        return (
            f"{type(self).__name__}(name={self.name!r}, "
            f"num_classes={self.num_classes}, splits={list(self.splits)})"
        )


_CACHE = {}
_CACHE_LOCK = threading.Lock()


def clear_cache():
    """Frees every materialised split (e.g. after an image folder changed)."""
    with _CACHE_LOCK:
        _CACHE.clear()
