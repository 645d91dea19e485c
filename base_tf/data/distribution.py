"""The task distribution p(D) that BASE meta-trains on and adapts from.

BASE meta-trains its shared prior on tasks D sampled from a distribution and
adapts to datasets it has not seen. `TaskDistribution` is a mixture over
dataset sources: a task picks a source (by weight), then K of its classes,
then their examples (see `TaskConfig`). Whole datasets (`held_out_sources`)
or some classes of a dataset (`held_out_classes`) are kept for meta-testing:
the `meta_train` view never draws them, the `meta_test` view draws only them.

`sample(index)` depends only on (seed, index): it uses a numpy Generator
seeded with `[seed, index]`, so a resumed run sees the same tasks.
"""

import copy
import dataclasses

import numpy as np

from base_tf.data.errors import DataError
from base_tf.data.sources import load_source
from base_tf.data.tasks import TaskConfig, make_task

META_TRAIN = "meta_train"
META_TEST = "meta_test"
PARTITIONS = (META_TRAIN, META_TEST)


class TaskDistribution:
    """A seeded mixture of K-class tasks over several datasets.

    Example:
        dist = TaskDistribution(
            ["cifar10", "mnist", "fashion_mnist"], num_classes=5,
            held_out_sources=["fashion_mnist"],
            held_out_classes={"cifar10": [8, 9]},
            config=TaskConfig(train_per_class=100, val_per_class=20))
        task = dist.meta_train.sample(0)  # cifar10 (not 8, 9) or mnist
        # Meta-test tasks: all of fashion_mnist, or cifar10's classes 8, 9.
        test_task = dist.view("meta_test", num_classes=None).sample(0)

    Args:
        sources: Source specs (TFDS names, folder paths or `Source`s; see
            `load_source`), at least one, with distinct names.
        num_classes: K, the classes of a task (>= 2), or None for all the
            classes a source has in the partition.
        config: A `TaskConfig`: image size, splits and examples per class.
        weights: Relative probabilities of the sources (non-negative, not all
            zero), or None for equal ones; renormalised within a partition.
        held_out_sources: Names of sources used for meta-testing only.
        held_out_classes: `{source name: [class id or name, ...]}`: classes
            used for meta-testing only; the rest of that source is
            meta-training data. A class is named as `Source.class_id`
            takes it (for `tiny_imagenet` also by WordNet id, "n02124075").
        partition: "meta_train" or "meta_test": which tasks `sample` draws.
        seed: An int >= 0; task `index` is drawn from `[seed, index]`.
        data_dir: Where prepared TFDS datasets are (see `load_source`).

    Raises:
        DataError: For unknown sources or classes, invalid weights, an empty
            partition, or K larger than a source's classes in the partition.
    """

    def __init__(
        self,
        sources,
        num_classes=10,
        *,
        config=None,
        weights=None,
        held_out_sources=(),
        held_out_classes=None,
        partition=META_TRAIN,
        seed=0,
        data_dir=None,
    ):
        if isinstance(sources, str) or not sources:
            raise DataError(
                "sources must be a non-empty list of TFDS names, folder paths "
                f"or Sources, got {sources!r}."
            )
        self._sources = tuple(
            load_source(s, data_dir=data_dir) for s in sources
        )
        names = [s.name for s in self._sources]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise DataError(
                f"Sources must have distinct names; repeated: {duplicates}. "
                "Give an ImageFolderSource a name= to tell folders apart."
            )
        self._num_classes = _checked_num_classes(num_classes)
        self._config = TaskConfig() if config is None else config
        if not isinstance(self._config, TaskConfig):
            raise DataError(f"config must be a TaskConfig, got {config!r}.")
        for source in self._sources:
            for split in self._config.required_per_class():
                source.check_split(split)
        self._weights = _normalised_weights(weights, names)
        self._held_out = _held_out_class_ids(
            self._sources, held_out_sources, held_out_classes or {}
        )
        if not _is_int(seed) or seed < 0:
            raise DataError(f"seed must be an int >= 0, got {seed!r}.")
        self._seed = int(seed)
        self._checked = set()  # Sources whose class counts were checked.
        self._set_partition(partition)

    def _set_partition(self, partition):
        if partition not in PARTITIONS:
            raise DataError(
                f"partition must be one of {PARTITIONS}, got {partition!r}."
            )
        self._partition = partition
        eligible = []
        for source in self._sources:
            held = self._held_out.get(source.name, ())
            if partition == META_TEST:
                ids = held
            else:
                ids = tuple(
                    c for c in range(source.num_classes) if c not in held
                )
            eligible.append(ids)
        indices = [i for i, ids in enumerate(eligible) if ids]
        if not indices:
            raise DataError(
                f"The {partition} partition has no classes: "
                + (
                    "give held_out_sources or held_out_classes to meta-test on."
                    if partition == META_TEST
                    else "every class of every source is held out."
                )
            )
        needed = 2 if self._num_classes is None else self._num_classes
        too_small = [
            f"{self._sources[i].name} has {len(eligible[i])}"
            for i in indices
            if len(eligible[i]) < needed
        ]
        if too_small:
            fewest = min(len(eligible[i]) for i in indices)
            lower = (
                f"lower num_classes (--num_classes) to {fewest} or less, "
                if fewest >= 2
                else ""
            )
            raise DataError(
                f"num_classes={self._num_classes} needs {needed} {partition} "
                f"classes in every source, more than some have "
                f"({'; '.join(too_small)}): {lower}hold out fewer of their "
                "classes, or drop those datasets."
            )
        weights = np.array([self._weights[i] for i in indices])
        if weights.sum() <= 0:
            raise DataError(
                f"Every source of the {partition} partition has weight 0: "
                "give at least one of them a positive weight."
            )
        self._active = tuple(indices)
        self._eligible = tuple(eligible[i] for i in indices)
        self._active_weights = weights / weights.sum()

    def view(self, partition, num_classes=...):
        """This distribution restricted to `partition`, sharing its sources.

        Args:
            partition: "meta_train" or "meta_test".
            num_classes: K for the view's tasks (an int >= 2, or None for all
                the classes of the chosen source); default: this one's K.

        Returns:
            A `TaskDistribution` (`self` if nothing changes).

        Raises:
            DataError: If the partition is empty or K is too large for it.
        """
        if num_classes is ...:
            num_classes = self._num_classes
        if (partition, num_classes) == (self._partition, self._num_classes):
            return self
        view = copy.copy(self)
        view._num_classes = _checked_num_classes(num_classes)
        view._set_partition(partition)
        return view

    @property
    def meta_train(self):
        """The view that draws meta-training tasks (no held-out class)."""
        return self.view(META_TRAIN)

    @property
    def meta_test(self):
        """The view that draws meta-test tasks (held-out classes only)."""
        return self.view(META_TEST)

    @property
    def partition(self):
        """ "meta_train" or "meta_test"."""
        return self._partition

    @property
    def sources(self):
        """All sources, in the order given."""
        return self._sources

    @property
    def num_classes(self):
        """K, or None for all the classes of the chosen source."""
        return self._num_classes

    @property
    def config(self):
        """The `TaskConfig` tasks are drawn with."""
        return self._config

    @property
    def seed(self):
        """The seed tasks are drawn with."""
        return self._seed

    def source_probabilities(self):
        """`{source name: probability}` of a task in this partition."""
        return {
            self._sources[i].name: float(p)
            for i, p in zip(self._active, self._active_weights, strict=True)
        }

    def class_ids(self, source_name):
        """The class ids of `source_name` that this partition draws from."""
        for i, ids in zip(self._active, self._eligible, strict=True):
            if self._sources[i].name == source_name:
                return ids
        return ()

    def only(self, source_name):
        """This partition's tasks of one source (the others' weights 0).

        Args:
            source_name: The name of a source with classes in the partition.

        Returns:
            A `TaskDistribution` sharing this one's sources and seed.

        Raises:
            DataError: If the source has no classes in the partition.
        """
        names = [s.name for s in self._sources]
        if source_name not in names:
            raise DataError(
                f"{source_name!r} is not among the sources {names}."
            )
        if not self.class_ids(source_name):
            raise DataError(
                f"{source_name!r} has no classes in the {self._partition} "
                "partition."
            )
        view = copy.copy(self)
        view._weights = [float(n == source_name) for n in names]
        view._set_partition(self._partition)
        return view

    def sample(self, index, image_spec=None):
        """Returns task number `index`, a function of (seed, index) only.

        A numpy Generator seeded with `[seed, index]` picks a source by
        weight, then K of its classes in this partition (label i is the i-th
        class drawn), then the examples (see `make_task`).

        Args:
            index: An int >= 0.
            image_spec: The `ImageSpec` of the task's images; default the
                config's. The classes and examples drawn do not depend on
                it: task `index` at two sizes is the same task.

        Returns:
            A `Task`.

        Raises:
            DataError: If a class of the chosen source has too few examples
                for the config (checked for all its classes in the partition,
                whichever were drawn).
        """
        if not _is_int(index) or index < 0:
            raise DataError(f"index must be an int >= 0, got {index!r}.")
        rng = np.random.default_rng([self._seed, int(index)])
        choice = int(rng.choice(len(self._active), p=self._active_weights))
        source = self._sources[self._active[choice]]
        eligible = self._eligible[choice]
        config = self._config
        if image_spec is not None and image_spec != config.image_spec:
            config = dataclasses.replace(config, image_spec=image_spec)
        self._check_counts(source, eligible, config.image_spec)
        k = len(eligible) if self._num_classes is None else self._num_classes
        class_ids = [
            int(c) for c in rng.choice(eligible, size=k, replace=False)
        ]
        return make_task(source, class_ids, config, seed=rng)

    def _check_counts(self, source, eligible, image_spec):
        key = (source.name, self._partition)
        if key in self._checked:
            return
        # Counts do not depend on the size: the split as this task reads it.
        splits = {
            split: source.task_split(split, image_spec)
            for split in self._config.required_per_class()
        }
        self._config.check_counts(source, splits, eligible)
        self._checked.add(key)

    def __repr__(self):
        return (
            f"TaskDistribution(partition={self._partition!r}, "
            f"num_classes={self._num_classes}, "
            f"sources={self.source_probabilities()}, seed={self._seed})"
        )


def _is_int(value):
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def _checked_num_classes(num_classes):
    if num_classes is not None and (
        not _is_int(num_classes) or num_classes < 2
    ):
        raise DataError(
            f"num_classes must be an int >= 2 or None, got {num_classes!r}."
        )
    return None if num_classes is None else int(num_classes)


def _normalised_weights(weights, names):
    if weights is None:
        return [1.0] * len(names)
    weights = list(weights)
    if len(weights) != len(names):
        raise DataError(
            f"weights has {len(weights)} entries for {len(names)} sources "
            f"({names}): give one weight a source."
        )
    try:
        values = [float(w) for w in weights]
    except (TypeError, ValueError) as error:
        raise DataError(f"weights must be numbers, got {weights!r}.") from error
    if not all(np.isfinite(v) and v >= 0 for v in values) or sum(values) <= 0:
        raise DataError(
            "weights must be finite, non-negative and not all zero, got "
            f"{weights!r}."
        )
    return values


def _held_out_class_ids(sources, held_out_sources, held_out_classes):
    """`{source name: sorted tuple of held-out class ids}`."""
    by_name = {s.name: s for s in sources}
    if isinstance(held_out_sources, str):
        held_out_sources = [held_out_sources]
    if not isinstance(held_out_classes, dict):
        raise DataError(
            "held_out_classes must be a dict {source name: [class, ...]}, "
            f"got {held_out_classes!r}."
        )
    unknown = [
        n
        for n in [*held_out_sources, *held_out_classes]
        if not isinstance(n, str) or n not in by_name
    ]
    if unknown:
        raise DataError(
            f"Held-out source(s) {unknown} are not among the sources "
            f"{list(by_name)}: hold out sources by the names they have."
        )
    both = sorted(set(held_out_sources) & set(held_out_classes))
    if both:
        raise DataError(
            f"{both} are in both held_out_sources and held_out_classes: a "
            "source is held out whole or by some of its classes, not both."
        )
    held = {n: tuple(range(by_name[n].num_classes)) for n in held_out_sources}
    for name, classes in held_out_classes.items():
        if isinstance(classes, (str, int)) or not classes:
            raise DataError(
                f"held_out_classes[{name!r}] must be a non-empty list of class "
                f"ids or names, got {classes!r}."
            )
        held[name] = tuple(sorted({by_name[name].class_id(c) for c in classes}))
    return held
