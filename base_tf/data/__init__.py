"""Task data for BASE: dataset sources, K-class tasks and their distribution.

from base_tf import data

dist = data.TaskDistribution(
    ["cifar10", "mnist"], num_classes=5,
    held_out_classes={"cifar10": [8, 9]},
    config=data.TaskConfig(data.ImageSpec(32, 32, 3), train_per_class=100,
                           val_per_class=20))
task = dist.meta_train.sample(0)
for images, labels in task.train_dataset(batch_size=32).take(10):
    ...  # float32 [32, 32, 32, 3] in [0, 1], int32 labels in 0..4

Importing this package also registers the TFDS builders base_tf defines
(`tiny_imagenet`), so that `tfds.load` and `load_source` know their names.
"""

# Registers the TFDS dataset "tiny_imagenet".
from base_tf.data import tiny_imagenet  # noqa: F401
from base_tf.data.base_source import MaterializedSplit, Source, clear_cache
from base_tf.data.distribution import TaskDistribution
from base_tf.data.errors import DataError
from base_tf.data.image_folder_source import ImageFolderSource
from base_tf.data.preprocessing import ImageSpec, convert_images, to_float
from base_tf.data.sources import load_source
from base_tf.data.tasks import Task, TaskConfig, make_task
from base_tf.data.tfds_source import TfdsSource

__all__ = [
    "DataError",
    "ImageFolderSource",
    "ImageSpec",
    "MaterializedSplit",
    "Source",
    "Task",
    "TaskConfig",
    "TaskDistribution",
    "TfdsSource",
    "clear_cache",
    "convert_images",
    "load_source",
    "make_task",
    "to_float",
]
