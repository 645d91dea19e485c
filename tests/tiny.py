"""The smallest real meta-training setup, shared by the meta-training tests:
a 1-cell NAS-Bench-201 supernet at C=4 on 3-class MNIST tasks at 8x8."""

from base_tf import data, meta_training
from tests import tfds_testing

CONFIG = meta_training.MetaTrainingConfig(
    search_space="nas_bench_201",
    channels=4,
    num_cells=1,
    num_classes=3,
    image_size=8,
    epochs=3,
    tasks_per_epoch=2,
    inner_steps=2,
    batch_size=8,
    checkpoint_every=1,
)


def tasks(seed=0):
    """3-class tasks of MNIST's test split (10k images: quick to load)."""
    return data.TaskDistribution(
        ["mnist"],
        num_classes=3,
        config=data.TaskConfig(
            data.ImageSpec(8, 8, 3),
            train_split="test",
            train_per_class=16,
            val_per_class=8,
        ),
        seed=seed,
        data_dir=tfds_testing.data_dir(),
    )
