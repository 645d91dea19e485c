"""The input pipeline of a derived network's training: splits to batches.

What `training.train` feeds `model.fit`, DARTS's way:

* the splits: "train" to train on and the first of `TEST_SPLITS` a source
  has to test on (`test_split`), every class with training images
  (`check_classes`), optionally a seeded subset of each (`subset`);
* the standardisation the network starts with: the train images'
  per-channel mean and std (`standardisation`);
* the batches: `training_dataset`, every epoch a seeded permutation of the
  examples, augmented (`evaluation.RandomCropFlip`, `evaluation.Cutout`)
  with seeds of (seed, epoch, step), so a resumed run sees what an
  uninterrupted one would; `test_dataset`, the test examples in order.
"""

import math
import os

import numpy as np
import tensorflow as tf

from base_tf import data, evaluation, run_folder

TRAIN_SPLIT = "train"
# The split trained networks are tested on: the first of these a source
# has.
TEST_SPLITS = ("test", "validation", "valid", "val")


def test_split(source):
    """The split of `source` a network is tested on: the first of
    `TEST_SPLITS` it has.

    Raises:
        data.DataError: `source` has no `TRAIN_SPLIT` to train on, or no
            test split.
    """
    if TRAIN_SPLIT not in source.splits:
        raise data.DataError(
            f"{source.name} has no {TRAIN_SPLIT!r} split to train on; its "
            f"splits are {list(source.splits)}."
        )
    for split in TEST_SPLITS:
        if split in source.splits:
            return split
    raise data.DataError(
        f"{source.name} has no test split ({', '.join(TEST_SPLITS)}); its "
        f"splits are {list(source.splits)}. Add one (for a folder: "
        "root/test/<class>/<image>)."
    )


def check_classes(source, split):
    """Refuses a split in which some class has no example.

    A folder dataset takes its classes from the class folders of all its
    splits, so an empty (or missing) class folder under train/ would give
    the network an output that no training image ever asks for.
    """
    empty = [
        source.class_names[c]
        for c, count in enumerate(split.class_counts())
        if not count
    ]
    if not empty:
        return
    names = ", ".join(repr(name) for name in empty)
    if isinstance(source, data.ImageFolderSource):
        folders = ", ".join(
            os.path.join(source.root, split.split, name) for name in empty
        )
        fix = f"add images to {folders}, or remove the class from every split"
    else:
        fix = "choose another dataset"
    raise data.DataError(
        f"{run_folder.dataset_name(source)}: {len(empty)} of its "
        f"{source.num_classes} "
        f"classes have no {split.split!r} images ({names}), so the network "
        f"would never learn them: {fix}."
    )


def subset(split, limit, seed):
    """The split's arrays, or a seeded random `limit` of them in order."""
    images, labels = split.images, split.labels
    if limit is None or limit >= len(labels):
        return images, labels
    rng = np.random.default_rng(seed)
    keep = np.sort(rng.choice(len(labels), size=limit, replace=False))
    return images[keep], labels[keep]


def examples(source, test_split, config, image_spec):
    """The train and test examples of a run, as uint8 images and labels.

    The train split (every class with images: `check_classes`) and
    `test_split`, at `image_spec`, each cut to a seeded subset of
    `config.max_train_examples` and `config.max_test_examples`.

    Returns:
        `(train_images, train_labels, test_images, test_labels)`.

    Raises:
        data.DataError: a class without training images, or a split
            without examples.
    """
    train_split = source.materialize(TRAIN_SPLIT, image_spec)
    check_classes(source, train_split)
    train_images, train_labels = subset(
        train_split, config.max_train_examples, config.seed
    )
    test_images, test_labels = subset(
        source.materialize(test_split, image_spec),
        config.max_test_examples,
        config.seed + 1,
    )
    if not len(train_labels) or not len(test_labels):
        raise data.DataError(
            f"{source.name}: the {TRAIN_SPLIT!r} and {test_split!r} splits "
            "need at least one example each."
        )
    return train_images, train_labels, test_images, test_labels


def standardisation(images):
    """Per-channel mean and std of uint8 images, as values in [0, 1]."""
    pixels = images.reshape(-1, images.shape[-1]).astype(np.float64) / 255.0
    return pixels.mean(axis=0).tolist(), pixels.std(axis=0).tolist()


def targets(labels, auxiliary):
    if auxiliary:
        return {"logits": labels, "aux_logits": labels}
    return labels


def training_dataset(
    images,
    labels,
    config,
    fill,
    start_epoch=0,
    auxiliary=False,
):
    """Epochs `start_epoch`..`config.epochs - 1` of augmented batches.

    Epoch e visits the examples in the order of a permutation seeded by
    (seed, e), in batches of `config.batch_size` (the last one smaller);
    batch s of epoch e is augmented (`RandomCropFlip`, `Cutout`) with a
    seed folded from (seed, e, s). The stream is thus a function of the
    config alone, and a run resumed at epoch e sees what an uninterrupted
    one would have.

    Args:
        images: uint8 `[N, H, W, c]`.
        labels: int `[N]`.
        config: a `TrainingConfig`.
        fill: the per-channel value cut-out pixels get (the mean pixel).
        start_epoch: the first epoch.
        auxiliary: whether targets are a dict for both heads.

    Returns:
        A `tf.data.Dataset` of (float32 images in [0, 1], int32 labels),
        `steps_per_epoch(N, batch_size)` batches an epoch.
    """
    num = len(labels)
    height, width = images.shape[1:3]
    crop_flip = None
    if config.augment:
        crop_flip = evaluation.RandomCropFlip(
            (
                evaluation.scaled(4, height),
                evaluation.scaled(4, width),
            )
        )
    cutout = None
    if config.cutout:
        cutout = evaluation.Cutout(
            (
                evaluation.scaled(config.cutout, height),
                evaluation.scaled(config.cutout, width),
            ),
            fill=list(fill),
        )
    images = tf.constant(images)
    labels = tf.constant(labels, tf.int32)
    seed = tf.constant(config.seed, tf.int64)

    def one_epoch(epoch):
        epoch_seed = tf.stack([seed, epoch])
        order = tf.argsort(tf.random.stateless_uniform([num], epoch_seed))
        batches = tf.data.Dataset.from_tensor_slices(order)
        return (
            batches.batch(config.batch_size)
            .enumerate()
            .map(lambda step, index: (epoch_seed, step, index))
        )

    def load(epoch_seed, step, index):
        x = tf.image.convert_image_dtype(tf.gather(images, index), tf.float32)
        batch_seed = tf.random.experimental.stateless_fold_in(epoch_seed, step)
        crop_seed, cutout_seed = tf.unstack(
            tf.random.experimental.stateless_split(batch_seed, 2)
        )
        if crop_flip is not None:
            x = crop_flip(x, crop_seed)
        if cutout is not None:
            x = cutout(x, cutout_seed)
        return x, targets(tf.gather(labels, index), auxiliary)

    epochs = tf.data.Dataset.range(start_epoch, config.epochs)
    return (
        epochs.flat_map(one_epoch)
        .map(load, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
        .prefetch(tf.data.AUTOTUNE)
    )


def test_dataset(images, labels, batch_size, auxiliary=False):
    """The test examples in order, float32 images in [0, 1]."""
    ds = tf.data.Dataset.from_tensor_slices(
        (images, labels.astype(np.int32))
    ).batch(batch_size)
    return ds.map(
        lambda x, y: (
            tf.image.convert_image_dtype(x, tf.float32),
            targets(y, auxiliary),
        ),
        num_parallel_calls=tf.data.AUTOTUNE,
    ).prefetch(tf.data.AUTOTUNE)


def steps_per_epoch(num_examples, batch_size):
    """Batches an epoch: every example once, the last batch smaller."""
    return math.ceil(num_examples / batch_size)
