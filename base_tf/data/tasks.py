"""A task: K classes of one dataset, relabelled 0..K-1, with train and val data.

BASE adapts its posterior to one task at a time. A `Task` holds the task's
train and validation examples (disjoint) as uint8 arrays at one `ImageSpec`,
gathered from a materialised source split, and serves them as tf.data
pipelines of float32 images in [0, 1] and int32 labels. `TaskConfig` says how
the examples are drawn; `make_task` draws them for given classes.
"""

import dataclasses

import numpy as np
import tensorflow as tf

from base_tf.data.errors import DataError
from base_tf.data.preprocessing import ImageSpec, to_float
from base_tf.data.sources import load_source

_MAX_SEED = 2**63 - 1


@dataclasses.dataclass(frozen=True)
class TaskConfig:
    """How the examples of a task's classes are drawn from its source.

    Validation examples come from `val_split` if given (a split disjoint from
    `train_split` by construction, e.g. "test"), else from `train_split`
    itself: each class's examples are permuted and the first ones go to
    validation, the next ones to training, so the two never share an example.

    Args:
        image_spec: The `ImageSpec` all images are brought to.
        train_split: The source split training examples come from.
        val_split: The split validation examples come from, or None to carve
            them out of `train_split`.
        train_per_class: Training examples per class, or None for all those
            left after validation.
        val_per_class: Validation examples per class, or None: all of the
            class in `val_split`, or `val_fraction` of it in `train_split`.
        val_fraction: With `val_split=None` and `val_per_class=None`, the
            fraction of each class (rounded, at least 1) kept for validation.
    """

    image_spec: ImageSpec = ImageSpec()
    train_split: str = "train"
    val_split: str | None = None
    train_per_class: int | None = None
    val_per_class: int | None = None
    val_fraction: float = 0.2

    def __post_init__(self):
        if not isinstance(self.image_spec, ImageSpec):
            raise DataError(
                f"image_spec must be an ImageSpec, got {self.image_spec!r}."
            )
        if not isinstance(self.train_split, str) or not self.train_split:
            raise DataError(
                f"train_split must be a split name, got {self.train_split!r}."
            )
        if self.val_split is not None and (
            not isinstance(self.val_split, str) or not self.val_split
        ):
            raise DataError(
                "val_split must be a split name or None, got "
                f"{self.val_split!r}."
            )
        if self.val_split == self.train_split:
            raise DataError(
                f"val_split equals train_split ({self.val_split!r}): set "
                "val_split=None to carve validation examples out of "
                "train_split, disjoint from the training ones."
            )
        for field in ("train_per_class", "val_per_class"):
            value = getattr(self, field)
            if value is not None and (not _is_int(value) or value < 1):
                raise DataError(
                    f"{field} must be a positive int or None, got {value!r}."
                )
        if not isinstance(self.val_fraction, (int, float)) or not (
            0.0 < self.val_fraction < 1.0
        ):
            raise DataError(
                "val_fraction must be a number in (0, 1), got "
                f"{self.val_fraction!r}."
            )

    def required_per_class(self):
        """The fewest examples a class needs in each split, `{split: n}`.

        A class with fewer examples in a split cannot serve this config.
        """
        num_train = self.train_per_class or 1
        if self.val_split is not None:
            return {
                self.train_split: num_train,
                self.val_split: self.val_per_class or 1,
            }
        if self.val_per_class is not None:
            return {self.train_split: self.val_per_class + num_train}
        needed = 2  # The smallest class from which val_fraction is carved.
        while needed - _num_val(needed, self.val_fraction) < num_train:
            needed += 1
        return {self.train_split: needed}

    def check_counts(self, source, splits, class_ids):
        """Raises `DataError` unless every class has the examples required.

        Args:
            source: The `Source` the classes belong to.
            splits: `{split name: MaterializedSplit}` for the splits used.
            class_ids: The class ids to check.
        """
        for split, needed in self.required_per_class().items():
            counts = splits[split].class_counts()
            for class_id in class_ids:
                if counts[class_id] < needed:
                    raise DataError(
                        f"Class {source.class_names[class_id]!r} (id "
                        f"{class_id}) of {source.name} has "
                        f"{counts[class_id]} examples in split {split!r}, "
                        f"fewer than the {needed} a task needs "
                        f"({self._describe()}). Lower train_per_class / "
                        "val_per_class, or leave this class out."
                    )

    def _describe(self):
        if self.val_split is None:
            val = (
                f"val_fraction={self.val_fraction}"
                if self.val_per_class is None
                else f"val_per_class={self.val_per_class}"
            )
            return f"train_per_class={self.train_per_class}, {val}"
        return (
            f"train_per_class={self.train_per_class} from "
            f"{self.train_split!r}, val_per_class={self.val_per_class} from "
            f"{self.val_split!r}"
        )


def _num_val(n, val_fraction):
    return min(max(1, round(n * val_fraction)), n - 1)


def _is_int(value):
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


@dataclasses.dataclass(frozen=True, eq=False)
class Task:
    """K classes of one dataset, relabelled 0..K-1, with disjoint examples.

    Label `i` is the source's class `class_ids[i]` (named `class_names[i]`).
    Images are uint8 at `image_spec`; the datasets serve them as float32 in
    [0, 1] (divided by 255, not standardised).

    Args:
        source_name: Name of the source the task was drawn from.
        class_ids: The source's class id of each label, a tuple of K ints.
        class_names: The source's class name of each label.
        image_spec: The `ImageSpec` of the images.
        train_split: The source split the training examples come from.
        val_split: The source split the validation examples come from.
        train_images: uint8 array `[num_train, height, width, channels]`.
        train_labels: int32 array `[num_train]` of labels in 0..K-1.
        train_indices: int64 array: each training example's index in the
            source's `train_split`.
        val_images: uint8 array `[num_val, height, width, channels]`.
        val_labels: int32 array `[num_val]`.
        val_indices: int64 array: each validation example's index in the
            source's `val_split`.
        seed: The seed `train_dataset` shuffles with by default.
    """

    source_name: str
    class_ids: tuple
    class_names: tuple
    image_spec: ImageSpec
    train_split: str
    val_split: str
    train_images: np.ndarray
    train_labels: np.ndarray
    train_indices: np.ndarray
    val_images: np.ndarray
    val_labels: np.ndarray
    val_indices: np.ndarray
    seed: int

    @property
    def num_classes(self):
        """K, the number of classes (labels 0..K-1)."""
        return len(self.class_ids)

    @property
    def num_train(self):
        """The number of training examples."""
        return len(self.train_labels)

    @property
    def num_val(self):
        """The number of validation examples."""
        return len(self.val_labels)

    def train_dataset(
        self, batch_size, seed=None, repeat=True, drop_remainder=False
    ):
        """Shuffled training batches `(images, labels)`.

        Each epoch is a fresh permutation drawn with
        `tf.random.experimental.stateless_shuffle` from `(seed, epoch)`, so
        the batches depend only on the seed (not on TensorFlow's global seed
        nor on the run), and a pipeline made again yields the same batches.
        With `repeat`, epochs follow each other without a gap (a batch may
        span two epochs, as with `shuffle().repeat().batch()`).

        Args:
            batch_size: Examples per batch, a positive int.
            seed: An int in [0, 2**63); default `self.seed`.
            repeat: Whether to repeat forever (else one epoch).
            drop_remainder: Whether to drop a last, smaller batch (one epoch
                only; repeated batches are always full).

        Returns:
            A `tf.data.Dataset` of (float32 `[batch, height, width,
            channels]` in [0, 1], int32 `[batch]`).
        """
        _check_batch_size(batch_size)
        seed = self.seed if seed is None else seed
        if not _is_int(seed) or not 0 <= seed <= _MAX_SEED:
            raise DataError(f"seed must be an int in [0, 2**63), got {seed!r}.")
        if self.num_train == 0:
            raise DataError(f"{self!r} has no training examples.")
        num_train = self.num_train
        seed = tf.constant(int(seed), tf.int64)

        def permutation(epoch):
            return tf.data.Dataset.from_tensor_slices(
                tf.random.experimental.stateless_shuffle(
                    tf.range(num_train, dtype=tf.int64),
                    seed=tf.stack([seed, epoch]),
                )
            )

        epochs = (
            tf.data.Dataset.counter() if repeat else tf.data.Dataset.range(1)
        )
        indices = epochs.flat_map(permutation).batch(
            batch_size, drop_remainder=drop_remainder
        )
        data = tf.data.Dataset.from_tensors(
            (self.train_images, self.train_labels)
        ).repeat()
        ds = tf.data.Dataset.zip(indices, data).map(
            _gather, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True
        )
        return _with_options(ds.prefetch(tf.data.AUTOTUNE))

    def val_dataset(self, batch_size, drop_remainder=False):
        """Validation batches `(images, labels)`, one pass in a fixed order.

        Args:
            batch_size: Examples per batch, a positive int.
            drop_remainder: Whether to drop a last, smaller batch.

        Returns:
            A `tf.data.Dataset` of (float32 `[batch, height, width,
            channels]` in [0, 1], int32 `[batch]`).
        """
        _check_batch_size(batch_size)
        ds = (
            tf.data.Dataset.from_tensor_slices(
                (self.val_images, self.val_labels)
            )
            .batch(batch_size, drop_remainder=drop_remainder)
            .map(
                lambda images, labels: (to_float(images), labels),
                num_parallel_calls=tf.data.AUTOTUNE,
                deterministic=True,
            )
        )
        return _with_options(ds.prefetch(tf.data.AUTOTUNE))

    def __repr__(self):
        return (
            f"Task(source={self.source_name!r}, "
            f"classes={list(self.class_names)}, num_train={self.num_train}, "
            f"num_val={self.num_val}, "
            f"image_shape={self.image_spec.shape})"
        )


def _gather(indices, data):
    images, labels = data
    return to_float(tf.gather(images, indices)), tf.gather(labels, indices)


def _with_options(ds):
    options = tf.data.Options()
    options.deterministic = True
    return ds.with_options(options)


def _check_batch_size(batch_size):
    if not _is_int(batch_size) or batch_size < 1:
        raise DataError(
            f"batch_size must be a positive int, got {batch_size!r}."
        )


def make_task(source, class_ids, config=None, seed=0):
    """Draws a task of the given classes from `source`.

    Label `i` is `class_ids[i]`. Each class's examples are permuted with a
    numpy Generator seeded by `seed` and the first ones taken (see
    `TaskConfig`), so equal arguments give an equal task.

    Args:
        source: A `Source`, or a spec for `load_source` (TFDS name or path).
        class_ids: The classes, by id or name; at least 2, no repeats.
        config: A `TaskConfig`; default `TaskConfig()` (32x32x3, validation
            carved out of "train").
        seed: An int >= 0, a list of them, or a `np.random.Generator`
            (used, and advanced, as is).

    Returns:
        A `Task`.

    Raises:
        DataError: If a class is unknown or repeated, a split is missing, or
            a class has too few examples for `config`.
    """
    source = load_source(source)
    config = TaskConfig() if config is None else config
    if not isinstance(config, TaskConfig):
        raise DataError(f"config must be a TaskConfig, got {config!r}.")
    if isinstance(class_ids, (str, int)) or len(class_ids) < 2:
        raise DataError(
            f"A task needs a sequence of at least 2 classes, got {class_ids!r}."
        )
    ids = tuple(source.class_id(c) for c in class_ids)
    if len(set(ids)) != len(ids):
        raise DataError(f"A task's classes must differ, got {list(class_ids)}.")
    rng = _generator(seed)
    splits = {
        split: source.task_split(split, config.image_spec)
        for split in config.required_per_class()
    }
    config.check_counts(source, splits, ids)

    train_split = splits[config.train_split]
    val_split = splits[config.val_split or config.train_split]
    train_parts, val_parts = [], []
    for class_id in ids:
        train_members = rng.permutation(train_split.class_indices[class_id])
        if config.val_split is None:
            n_val = config.val_per_class or _num_val(
                len(train_members), config.val_fraction
            )
            val_members = train_members[:n_val]
            train_members = train_members[n_val:]
        else:
            val_members = rng.permutation(val_split.class_indices[class_id])
            val_members = val_members[: config.val_per_class]
        train_parts.append(train_members[: config.train_per_class])
        val_parts.append(val_members)

    def assemble(parts, split):
        labels = np.concatenate(
            [np.full(len(p), i, np.int32) for i, p in enumerate(parts)]
        )
        indices = np.concatenate(parts).astype(np.int64)
        order = rng.permutation(len(indices))  # Mix the classes.
        indices, labels = indices[order], labels[order]
        return split.images[indices], labels, indices

    train_images, train_labels, train_indices = assemble(
        train_parts, train_split
    )
    val_images, val_labels, val_indices = assemble(val_parts, val_split)
    return Task(
        source_name=source.name,
        class_ids=ids,
        class_names=tuple(source.class_names[c] for c in ids),
        image_spec=config.image_spec,
        train_split=train_split.split,
        val_split=val_split.split,
        train_images=train_images,
        train_labels=train_labels,
        train_indices=train_indices,
        val_images=val_images,
        val_labels=val_labels,
        val_indices=val_indices,
        seed=int(rng.integers(2**31 - 1)),
    )


def _generator(seed):
    if isinstance(seed, np.random.Generator):
        return seed
    if _is_int(seed) and seed >= 0:
        return np.random.default_rng(int(seed))
    if (
        isinstance(seed, (list, tuple))
        and seed
        and all(_is_int(v) and v >= 0 for v in seed)
    ):
        return np.random.default_rng([int(v) for v in seed])
    raise DataError(
        "seed must be an int >= 0, a list of them or a np.random.Generator, "
        f"got {seed!r}."
    )
