"""Meta-trains BASE's shared prior W on tasks drawn from several datasets.

    bazel run //bin:meta_train -- --flagfile=configs/tiny.cfg

Today it sets up what meta-training stands on, and shows it: the search
space, and the meta-training and meta-test tasks of the first epoch (drawn
exactly as meta-training will draw them: task i of epoch e is task
e * tasks_per_epoch + i of the seeded distribution). The BASE model and the
meta-update land on top of this.
"""

import time

from absl import flags, logging

from base_tf import data, search_space
from bin import cli

_SPACE = flags.DEFINE_enum(
    "search_space", "darts", sorted(search_space.SPACES), "Cell search space."
)
_DATASETS = flags.DEFINE_list(
    "datasets",
    ["mnist", "fashion_mnist", "cifar10"],
    "Task sources: TFDS names or folders laid out as <split>/<class>/<image>.",
)
_HELD_OUT = flags.DEFINE_list(
    "held_out_datasets",
    ["cifar10"],
    "Sources kept for meta-testing (adaptation to unseen datasets).",
)
_NUM_CLASSES = flags.DEFINE_integer("num_classes", 10, "K, classes a task.")
_IMAGE_SIZE = flags.DEFINE_integer(
    "image_size", 32, "Every image is resized to image_size^2 x 3."
)
_TRAIN_PER_CLASS = flags.DEFINE_integer(
    "train_per_class", 100, "Training examples per class of a task."
)
_VAL_PER_CLASS = flags.DEFINE_integer(
    "val_per_class", 20, "Validation examples per class of a task."
)
_TASKS_PER_EPOCH = flags.DEFINE_integer(
    "tasks_per_epoch", 4, "C, tasks sampled each meta-training epoch."
)
_BATCH_SIZE = flags.DEFINE_integer("batch_size", 32, "Inner-loop batch size.")
_SEED = flags.DEFINE_integer("seed", 0, "Seed of the task distribution.")
_DATA_DIR = flags.DEFINE_string(
    "data_dir", None, "Where TFDS datasets are prepared (default: TFDS's)."
)


def describe_space(space):
    print(f"search space {space.name}:")
    print(f"  ops ({len(space.ops)}): {', '.join(space.ops)}")
    print(f"  cell types: {', '.join(space.cell_types)}")
    edges = " ".join(f"{i}->{k}" for i, k in space.edges)
    print(f"  edges ({len(space.edges)} a cell): {edges}")


def describe_task(label, task, batch_size):
    start = time.perf_counter()
    images, labels = next(iter(task.train_dataset(batch_size)))
    took = time.perf_counter() - start
    print(
        f"  {label}: {task.source_name} classes {list(task.class_names)}; "
        f"{task.num_train} train / {task.num_val} val; first batch "
        f"{tuple(images.shape)} in [{float(images.numpy().min()):.2f}, "
        f"{float(images.numpy().max()):.2f}], labels "
        f"{sorted(set(labels.numpy().tolist()))} ({took * 1e3:.0f} ms)"
    )


def main(argv):
    del argv
    describe_space(search_space.get_space(_SPACE.value))
    config = data.TaskConfig(
        data.ImageSpec(_IMAGE_SIZE.value, _IMAGE_SIZE.value, 3),
        train_per_class=_TRAIN_PER_CLASS.value,
        val_per_class=_VAL_PER_CLASS.value,
    )
    start = time.perf_counter()
    tasks = data.TaskDistribution(
        _DATASETS.value,
        num_classes=_NUM_CLASSES.value,
        config=config,
        held_out_sources=_HELD_OUT.value,
        seed=_SEED.value,
        data_dir=_DATA_DIR.value,
    )
    print(f"task distribution: {tasks!r}")
    print(f"  meta-train sources: {tasks.meta_train.source_probabilities()}")
    print(f"  meta-test sources: {tasks.meta_test.source_probabilities()}")
    print(f"epoch 0: {_TASKS_PER_EPOCH.value} meta-training tasks")
    for i in range(_TASKS_PER_EPOCH.value):
        describe_task(
            f"task {i}", tasks.meta_train.sample(i), _BATCH_SIZE.value
        )
    print("meta-test")
    describe_task("task 0", tasks.meta_test.sample(0), _BATCH_SIZE.value)
    logging.info("tasks drawn in %.1f s", time.perf_counter() - start)
    print(f"done in {time.perf_counter() - start:.1f} s")


if __name__ == "__main__":
    cli.run(main)
