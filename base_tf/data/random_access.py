"""Tasks that read only their own examples: TFDS random access (ArrayRecord).

`Source.materialize` decodes a whole split into memory, which serves small
sets (CIFAR-10, Tiny-ImageNet at 64x64: a few hundred MB) but not ImageNet
at 224x224 (about 150 GB decoded). A `RandomAccessSplit` looks like a
`MaterializedSplit` to `make_task` (labels, `class_indices`, and `images`
indexed by example ids), but holds only the labels: indexing `images` reads,
decodes and resizes just those examples through TFDS's random-access data
source (`builder.as_data_source`), so a task's memory is bounded by the task,
not the dataset.

TFDS reads randomly from ArrayRecord files only, while `tfds.load` (tf.data)
reads TFRecord. `add_array_record(builder)` gives a prepared TFRecord dataset
the ArrayRecord copy as TFDS's "alternative file format" (what `tfds
convert_format` does, which needs Apache Beam here), plus each split's label
index, `<name>-<split>.labels.npy`, so that no task has to scan the split to
find a class's examples. `python -m base_tf.data.prepare tiny_imagenet` does
it for Tiny-ImageNet.
"""

import os

import numpy as np
import tensorflow as tf
import tensorflow_datasets as tfds

from base_tf.data.preprocessing import convert_images

ARRAY_RECORD = tfds.core.FileFormat.ARRAY_RECORD
_TFRECORD_SUFFIX = f".{tfds.core.FileFormat.TFRECORD.file_suffix}-"
_ARRAY_RECORD_SUFFIX = f".{ARRAY_RECORD.file_suffix}-"


def has_array_record(builder):
    """Whether the prepared dataset of `builder` can be read randomly."""
    info = builder.info
    # TFDS 4.9.10 reads a prepared dataset's alternative file formats into
    # info.as_proto only, not into info.available_file_formats().
    return (
        ARRAY_RECORD in info.available_file_formats()
        or ARRAY_RECORD.value in info.as_proto.alternative_file_formats
    )


def data_source(builder, split, decoders=None):
    """TFDS's random-access data source of `split`, read from ArrayRecord.

    It switches `builder.info`'s file format to ArrayRecord: give it a
    builder that `as_dataset` will not read from.

    Args:
        builder: A prepared `tfds.core.DatasetBuilder`.
        split: The split's name.
        decoders: As for `builder.as_data_source`.
    """
    info = builder.info
    if ARRAY_RECORD not in info.available_file_formats():
        # What TFDS would have read from dataset_info.json (see above); in
        # memory only (that info is not written back).
        info.add_alternative_file_format(ARRAY_RECORD)
    return builder.as_data_source(
        split=split, decoders=decoders, file_format=ARRAY_RECORD
    )


def add_array_record(builder):
    """Writes an ArrayRecord copy and label indices of a prepared dataset.

    Each TFRecord shard gets an ArrayRecord shard of the same examples in
    the same order (so the split's shard lengths hold for both), and the
    dataset info lists ArrayRecord as an alternative file format; then
    `builder.as_data_source` reads it while `builder.as_dataset` keeps
    reading TFRecord. Idempotent.

    Args:
        builder: A prepared `tfds.core.DatasetBuilder` in TFRecord format,
            whose `supervised_keys` name a `ClassLabel`.
    """
    info = builder.info
    data_dir = builder.data_path
    label_key = info.supervised_keys[1]
    for split, split_info in info.splits.items():
        index = label_index_path(builder, split)
        if not index.exists():
            labels = _stream_labels(builder, split, label_key)
            _write_atomically(index, lambda f, a=labels: np.save(f, a))
        if has_array_record(builder):
            continue
        for path in split_info.filepaths:
            name = path.name
            if _TFRECORD_SUFFIX not in name:
                raise ValueError(f"{path} is not a TFRecord shard.")
            target = data_dir / name.replace(
                _TFRECORD_SUFFIX, _ARRAY_RECORD_SUFFIX
            )
            temporary = target.with_name(target.name + ".incomplete")
            records = tf.data.TFRecordDataset(os.fspath(path))
            tfds.core.file_adapters.ArrayRecordFileAdapter.write_examples(
                temporary, ((None, r) for r in records.as_numpy_iterator())
            )
            temporary.rename(target)
    if not has_array_record(builder):
        info.add_alternative_file_format(ARRAY_RECORD)
        info.write_to_directory(data_dir)


def label_index_path(builder, split):
    """Where `add_array_record` keeps `split`'s labels (int64, .npy)."""
    return builder.data_path / f"{builder.name}-{split}.labels.npy"


def _stream_labels(builder, split, label_key):
    """All labels of `split` in order, reading no image decoded."""
    image_key = builder.info.supervised_keys[0]
    ds = builder.as_dataset(
        split=split,
        shuffle_files=False,
        decoders={image_key: tfds.decode.SkipDecoding()},
    )
    ds = ds.map(lambda example: example[label_key]).batch(8192)
    parts = list(ds.as_numpy_iterator())
    return np.concatenate(parts).astype(np.int64) if parts else np.zeros(0)


def _write_atomically(path, write):
    temporary = path.with_name(path.name + ".incomplete")
    with temporary.open("wb") as f:
        write(f)
    temporary.rename(path)


class RandomAccessSplit:
    """One split of a TFDS source, read example by example when indexed.

    Offers what `make_task` and `TaskConfig.check_counts` use of a
    `MaterializedSplit`: `source_name`, `split`, `image_spec`, `labels`,
    `class_indices`, `num_examples`, `class_counts()`, and `images`, which
    `images[indices]` turns into a uint8 array `[len(indices), height,
    width, channels]` at `image_spec`, reading only those examples.

    Args:
        source_name: The source's name.
        builder: A prepared `tfds.core.DatasetBuilder` with the ArrayRecord
            format (see `add_array_record`). Not shared: reading randomly
            switches its info's file format.
        split: The split's name.
        image_spec: The `ImageSpec` to bring images to.
        num_classes: The number of class ids.
    """

    def __init__(self, source_name, builder, split, image_spec, num_classes):
        self.source_name = source_name
        self.split = split
        self.image_spec = image_spec
        image_key, label_key = builder.info.supervised_keys
        index = label_index_path(builder, split)
        labels = (
            np.load(index)
            if index.exists()
            else _stream_labels(builder, split, label_key)
        )
        self.labels = labels.astype(np.int64)
        order = np.argsort(self.labels, kind="stable")
        bounds = np.searchsorted(self.labels[order], np.arange(num_classes + 1))
        self.class_indices = tuple(
            order[bounds[c] : bounds[c + 1]] for c in range(num_classes)
        )
        for array in (self.labels, *self.class_indices):
            array.flags.writeable = False
        # Images come as their encoded bytes, decoded by TensorFlow as
        # `as_dataset` decodes them: the same pixels both ways.
        source = data_source(
            builder, split, decoders={image_key: tfds.decode.SkipDecoding()}
        )
        shape = tuple(builder.info.features[image_key].shape)
        self.images = _Images(source, image_key, shape, image_spec)

    @property
    def num_examples(self):
        """The number of examples in the split."""
        return len(self.labels)

    def class_counts(self):
        """The number of examples of each class id, as a list of ints."""
        return [len(indices) for indices in self.class_indices]


class _Images:
    """`images[indices]`: those examples' images, read, decoded, resized.

    Args:
        data_source: TFDS's data source, serving images as encoded bytes.
        image_key: The image feature's key.
        image_shape: The image feature's shape, `(height, width, channels)`,
            height and width None when they vary.
        image_spec: The `ImageSpec` to bring images to.
    """

    def __init__(self, data_source, image_key, image_shape, image_spec):
        self._source = data_source
        self._key = image_key
        self._spec = image_spec
        channels = image_shape[-1] or 3
        static = None not in image_shape

        def decode(encoded):
            image = tf.io.decode_image(
                encoded, channels=channels, expand_animations=False
            )
            if static:  # Resized below, all at once.
                return tf.ensure_shape(image, image_shape)
            return convert_images(image, image_spec)

        out_shape = image_shape if static else image_spec.shape

        # One graph decodes a whole task's images (far fewer Python-level
        # ops than one by one), and resizes them as one batch when they
        # share a shape.
        @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
        def decode_all(encoded):
            images = tf.map_fn(
                decode,
                encoded,
                fn_output_signature=tf.TensorSpec(out_shape, tf.uint8),
                parallel_iterations=16,
            )
            return convert_images(images, image_spec) if static else images

        self._decode = decode_all

    def __len__(self):
        return len(self._source)

    def __getitem__(self, indices):
        indices = np.asarray(indices, np.int64).reshape(-1)
        if not len(indices):
            return np.zeros((0, *self._spec.shape), np.uint8)
        # ArrayRecord reads sorted positions fastest; each once.
        unique, inverse = np.unique(indices, return_inverse=True)
        examples = self._source.__getitems__(unique.tolist())
        encoded = tf.constant([example[self._key] for example in examples])
        return self._decode(encoded).numpy()[inverse]
