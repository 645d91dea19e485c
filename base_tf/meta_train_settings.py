"""A meta-training program's settings, made into the library's objects.

`bin/meta_train` and `benchmarks/meta_learning_evidence.py` take the same
settings, as flags, so that a shipped config (`--flagfile=configs/x.cfg`)
runs in both alike; each hands its flag values here, and both get the same
objects:

* `meta_training_config`: the `MetaTrainingConfig` of the settings named
  as its fields.
* `TaskSettings`: where the tasks come from and what each holds (the
  datasets, what is held out of meta-training, the images' channels, the
  examples of a class); `TaskSettings.task_distribution(config)` is their
  `TaskDistribution` at the config's K, image size and seed. Its defaults
  are the programs' flag defaults.
* `held_out_classes`: "dataset:class" entries (--held_out_classes) as
  `{dataset: [class, ...]}`.

Nothing here reads flags: a program passes their values, and the names of
its flags so that an error names the flag (as `run_folder` does).
"""

import dataclasses
import re

from base_tf import data
from base_tf.meta_training_config import MetaTrainingConfig


def _name(name, flags):
    """`--name` when `name` is one of the caller's `flags`, else `name`."""
    return f"--{name}" if name in flags else name


def meta_training_config(values, flags=()):
    """The `MetaTrainingConfig` of the settings `values`.

    Args:
        values: `{name: value}`, e.g. a program's flag values
            (`FLAGS.flag_values_dict()`). Those named as a field of
            `MetaTrainingConfig` are its values; the others are ignored, and
            a field without a value keeps its default (an option measured
            from Python, e.g. by a benchmark). `image_sizes` may be given
            as text, as a list flag gives it (`["16", "32"]`); empty is
            None.
        flags: the names of the caller's command-line flags (any
            container, e.g. `absl.flags.FLAGS`), or empty for a library
            caller: an error names a field that is one as `--field`.

    Returns:
        A `MetaTrainingConfig`.

    Raises:
        ValueError: a value is invalid; the message names its flag (or
            its field).
    """
    fields = MetaTrainingConfig.__dataclass_fields__
    values = {name: values[name] for name in fields if name in values}
    if values.get("image_sizes") is not None:
        try:
            values["image_sizes"] = [int(v) for v in values["image_sizes"]]
        except ValueError:
            raise ValueError(
                f"{_name('image_sizes', flags)}="
                f"{','.join(values['image_sizes'])}: give sizes in pixels, "
                "e.g. 16,32."
            ) from None
        if not values["image_sizes"]:
            values["image_sizes"] = None
    try:
        return MetaTrainingConfig(**values)
    except ValueError as error:
        # "MetaTrainingConfig.epochs must be ..." -> "--epochs must be ...".
        message = re.sub(
            r"MetaTrainingConfig\.(\w+)",
            lambda field: f"--{field[1]}" if field[1] in flags else field[0],
            str(error),
        )
        raise ValueError(message) from None


def held_out_classes(entries):
    """`{dataset: [class, ...]}` of "dataset:class" entries.

    Args:
        entries: the --held_out_classes entries: `dataset:class`, a class
            by name, id (digits) or (tiny_imagenet) WordNet id; an entry
            without `dataset:` belongs to the last dataset named, e.g.
            `["tiny_imagenet:n02124075", "n02123045"]`.

    Returns:
        A dict from each dataset named to its classes, in order; an id is
        an int.

    Raises:
        ValueError: an entry belongs to no dataset.
    """
    held, dataset = {}, None
    for entry in entries:
        if ":" in entry:
            dataset, entry = entry.rsplit(":", 1)
        if dataset is None or not entry:
            raise ValueError(
                f"--held_out_classes: {entry!r} names no dataset: write the "
                "first class of each dataset as dataset:class, e.g. "
                "tiny_imagenet:n02124075."
            )
        held.setdefault(dataset, []).append(
            int(entry) if entry.isdigit() else entry
        )
    return held


@dataclasses.dataclass(frozen=True)
class TaskSettings:
    """Where a meta-training run's tasks come from, and what each holds.

    Args:
        datasets: the datasets tasks are drawn from: TFDS names or folders
            laid out as <split>/<class>/<image>.
        held_out_datasets: those of `datasets` kept out of meta-training,
            its meta-test tasks only (datasets never seen).
        held_out_classes: classes of `datasets` kept out of meta-training,
            as "dataset:class" entries (see `held_out_classes`).
        image_channels: the channels of the task images: 3 (RGB; grey
            images repeated) or 1 (grey; RGB converted to its luma).
        train_per_class: the training examples of each class of a task.
        val_per_class: the validation examples of each class of a task.
        data_dir: where TFDS datasets are prepared; None: TFDS's.
    """

    datasets: tuple = ("mnist", "fashion_mnist", "cifar10")
    held_out_datasets: tuple = ("cifar10",)
    held_out_classes: tuple = ()
    image_channels: int = 3
    train_per_class: int = 100
    val_per_class: int = 20
    data_dir: str | None = None

    def __post_init__(self):
        for name in ("datasets", "held_out_datasets", "held_out_classes"):
            object.__setattr__(self, name, tuple(getattr(self, name)))

    @classmethod
    def from_values(cls, values):
        """The settings of `values`, e.g. a program's flag values.

        Args:
            values: `{name: value}`; those named as a field are its values,
                the others are ignored, and a field without a value keeps
                its default.

        Returns:
            A `TaskSettings`.
        """
        fields = cls.__dataclass_fields__
        return cls(**{name: values[name] for name in fields if name in values})

    def task_distribution(self, config):
        """The `data.TaskDistribution` of these settings at `config`'s K,
        image size and seed.

        Checks the datasets; no image is read until a task is drawn.

        Args:
            config: the run's `MetaTrainingConfig`.

        Returns:
            A `data.TaskDistribution`.

        Raises:
            ValueError: a held-out class belongs to no dataset
                (`held_out_classes`).
            data.DataError: a dataset, class or count the data refuses.
        """
        size = config.image_size
        return data.TaskDistribution(
            self.datasets,
            num_classes=config.num_classes,
            config=data.TaskConfig(
                data.ImageSpec(size, size, self.image_channels),
                train_per_class=self.train_per_class,
                val_per_class=self.val_per_class,
            ),
            held_out_sources=self.held_out_datasets,
            held_out_classes=held_out_classes(self.held_out_classes),
            seed=config.seed,
            data_dir=self.data_dir,
        )
