"""Dataset sources: a TFDS image-classification dataset or a folder of images.

A `Source` knows its name, class names and splits, and materialises a split
as an in-memory uint8 array at a chosen `ImageSpec`, together with its labels
and the example indices of each class (`MaterializedSplit`). A split is read,
decoded and resized once per process (a parallel tf.data map keeps all cores
busy) and cached, so that sampling a task only gathers rows of arrays.

`load_source(spec)` is the entry point: a TFDS name (`"cifar10"`, `"mnist"`,
`"emnist/balanced"`, ...) or a path to a folder laid out as
`root/<split>/<class>/<image>` (read with `tfds.folder_dataset.ImageFolder`).
Nothing is ever downloaded: a TFDS dataset must already be prepared.
"""

import abc
import dataclasses
import difflib
import os
import threading

import numpy as np
import tensorflow as tf
import tensorflow_datasets as tfds

from base_tf.data import random_access as random_access_lib
from base_tf.data.errors import DataError
from base_tf.data.preprocessing import ImageSpec, convert_images

# Datasets whose raw files this project ships, and how to prepare them.
_SHARED_DATASETS = ("cifar10", "mnist", "fashion_mnist")
_SHARED_PREPARE_COMMAND = (
    "python ../shared/data/prepare_tfds.py --out ~/tensorflow_datasets"
)
_IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg")
_FOLDER_LAYOUT = (
    "root/<split>/<class>/<image>.png|jpg (e.g. root/train/cat/1.png)"
)
_MATERIALIZE_BATCH = 1024
# A TFDS split whose decoded images would take more than this is read
# example by example for each task, when its ArrayRecord copy exists (see
# TfdsSource); smaller ones are materialised, which samples tasks faster
# (benchmarks/task_sampling.py).
IN_MEMORY_LIMIT_BYTES = 2**30


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
        key = (self._cache_key(), split, image_spec)
        with _CACHE_LOCK:
            if key not in _CACHE:
                _CACHE[key] = self._read(split, image_spec)
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
        key = ("random_access", self._cache_key(), split, image_spec)
        with _CACHE_LOCK:
            if key not in _CACHE:
                # A builder of its own: random access switches its info's
                # file format, which as_dataset must not see.
                _CACHE[key] = random_access_lib.RandomAccessSplit(
                    self.name,
                    tfds.builder(self.name, data_dir=self._data_dir),
                    split,
                    image_spec,
                    self.num_classes,
                )
            return _CACHE[key]

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
        f"out as {_FOLDER_LAYOUT}.{folder_hint}"
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


class ImageFolderSource(Source):
    """A user's folder of images, `root/<split>/<class>/<image>`.

    Read with `tfds.folder_dataset.ImageFolder`: class names are the sorted
    class folder names (the same ids in every split), images are .png, .jpg
    or .jpeg files of any size, read as RGB and brought to the `ImageSpec`
    when materialised. The folder is listed once, when the source is made.

    Args:
        root: Path to the folder.
        name: The source's name; default: the folder's base name.

    Raises:
        DataError: If the path does not exist, is not a folder, or holds no
            images in the expected layout.
    """

    def __init__(self, root, name=None):
        root = os.path.abspath(os.path.expanduser(os.fspath(root)))
        _check_folder_layout(root)
        builder = tfds.folder_dataset.ImageFolder(root)
        self._root = root
        self._builder = builder
        self.name = name or os.path.basename(root)
        self.class_names = tuple(builder.info.features["label"].names)
        self.splits = tuple(
            split
            for split, info in builder.info.splits.items()
            if info.num_examples > 0
        )

    @property
    def root(self):
        """The absolute path of the folder."""
        return self._root

    def num_examples(self, split):
        self.check_split(split)
        return self._builder.info.splits[split].num_examples

    def _examples(self, split):
        return self._builder.as_dataset(
            split=split, shuffle_files=False, as_supervised=True
        )

    def _cache_key(self):
        return ("folder", os.path.realpath(self._root))

    def _explain_read_error(self, split):
        for class_name in self.class_names:
            folder = os.path.join(self._root, split, class_name)
            if not os.path.isdir(folder):
                continue
            for filename in sorted(os.listdir(folder)):
                path = os.path.join(folder, filename)
                if not _is_image(filename):
                    continue
                try:
                    tf.io.decode_image(tf.io.read_file(path))
                except tf.errors.OpError:
                    return f"{path} is not a valid image: replace or remove it."
        return "Check that every image file is a valid PNG or JPEG."


def _check_folder_layout(root):
    """Raises a `DataError` naming what is wrong with `root`'s layout."""
    if not os.path.exists(root):
        raise DataError(
            f"No such folder: {root}. Give an existing folder laid out as "
            f"{_FOLDER_LAYOUT}, or a TFDS dataset name."
        )
    if not os.path.isdir(root):
        raise DataError(
            f"{root} is a file, not a folder: give a folder laid out as "
            f"{_FOLDER_LAYOUT}."
        )
    entries = os.listdir(root)
    if not entries:
        raise DataError(
            f"Folder {root} is empty: put images in it laid out as "
            f"{_FOLDER_LAYOUT}."
        )
    if any(_is_image(f) for f in entries):
        raise DataError(
            f"Folder {root} holds images directly; move them into split and "
            f"class sub-folders: {_FOLDER_LAYOUT}."
        )
    splits = sorted(d for d in entries if os.path.isdir(os.path.join(root, d)))
    if not splits:
        raise DataError(
            f"Folder {root} has no sub-folders (and no images): lay it out as "
            f"{_FOLDER_LAYOUT}."
        )
    class_like = []
    for split in splits:
        split_dir = os.path.join(root, split)
        for class_name in os.listdir(split_dir):
            class_dir = os.path.join(split_dir, class_name)
            if os.path.isdir(class_dir) and any(
                _is_image(f) for f in os.listdir(class_dir)
            ):
                return
        if any(_is_image(f) for f in os.listdir(split_dir)):
            class_like.append(split)
    if class_like:
        raise DataError(
            f"Folder {root} has no class sub-folders: {class_like} hold images "
            "directly, which looks like root/<class>/<image>. Put the class "
            "folders inside a split folder, e.g. "
            f"{os.path.join(root, 'train', class_like[0])}/; the layout is "
            f"{_FOLDER_LAYOUT}."
        )
    raise DataError(
        f"Folder {root} holds no .png/.jpg/.jpeg images in class sub-folders: "
        f"lay it out as {_FOLDER_LAYOUT}."
    )


def _is_image(filename):
    return filename.lower().endswith(_IMAGE_EXTENSIONS)


def load_source(spec, data_dir=None):
    """Returns the `Source` that `spec` names.

    Args:
        spec: A `Source` (returned as is); a path to an image folder (a
            `os.PathLike`, or a str that starts with "/", "./", "../" or
            "~"); or else a TFDS dataset name such as "cifar10".
        data_dir: Where prepared TFDS datasets are (TFDS names only); None
            for TFDS's default (`TFDS_DATA_DIR`, else ~/tensorflow_datasets).

    Returns:
        A `TfdsSource` or `ImageFolderSource`.

    Raises:
        DataError: If `spec` is not a known, prepared TFDS image dataset nor
            a folder laid out as `root/<split>/<class>/<image>`.
    """
    if isinstance(spec, Source):
        return spec
    if isinstance(spec, os.PathLike) or (
        isinstance(spec, str) and _looks_like_path(spec)
    ):
        if data_dir is not None:
            raise DataError(
                f"data_dir applies to TFDS names only; {os.fspath(spec)!r} "
                "is a folder path: drop data_dir."
            )
        return ImageFolderSource(spec)
    if isinstance(spec, str):
        return TfdsSource(spec, data_dir=data_dir)
    raise DataError(
        "A source is a TFDS name (str), a folder path (str or os.PathLike) "
        f"or a Source, got {spec!r}."
    )


def _looks_like_path(spec):
    return (
        os.path.isabs(spec)
        or spec in (".", "..", "~")
        or spec.startswith(("./", "../", "~/", "~", ".\\", "..\\"))
    )
