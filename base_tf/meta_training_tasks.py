"""Line 3 of BASE, "sample C tasks D_c": each epoch's tasks, as inputs.

Task c of epoch e is task `e * C + c` of the seeded `TaskDistribution`,
and its noise seed is `task_seed(seed, e * C + c)`: which tasks an epoch
sees, and their noise, depend on the config alone, so a resumed run draws
what an uninterrupted one would.

`TaskSampler` turns task indices into the inner loop's inputs (T training
batches, the validation set, N, the seed), groups an epoch's tasks into
calls of the replicas (one task per replica, tasks of one image size a
call), and draws the next tasks on a thread of its own while the inner
loop runs, so that reading and decoding them is off the critical path.
"""

import concurrent.futures
import dataclasses
import typing
import weakref

import numpy as np
import tensorflow as tf


class TaskInputs(typing.NamedTuple):
    """What the inner loop of one task takes, by name (tensors, or one
    value a replica)."""

    images: typing.Any  # [T, batch, h, w, c]: the T training batches
    labels: typing.Any  # [T, batch]
    val_images: typing.Any  # [n, h, w, c]: the whole validation set
    val_labels: typing.Any  # [n]
    num_examples: typing.Any  # N, the task's training examples
    seed: typing.Any  # the task's noise seed, int64 [2]


def task_seed(seed, index):
    """The noise seed of task `index` of a run seeded `seed`."""
    return tf.constant([seed, index], tf.int64)


class TaskSampler:
    """Draws meta-training's tasks and hands them to the replicas.

    Args:
        config: the `MetaTrainingConfig` (C, T, the batch size, the image
            sizes, the seed).
        tasks: the `TaskDistribution` view an epoch's tasks come from
            (`meta_train`).
        strategy: the `tf.distribute.Strategy` whose replicas adapt them.
    """

    def __init__(self, config, tasks, strategy):
        self.config = config
        self.tasks = tasks
        self.strategy = strategy
        # Draws the next tasks while the inner loop runs (`sample`); the
        # next epoch's first ones, drawn during this epoch, wait in _next.
        self._executor = concurrent.futures.ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="task-sampler"
        )
        weakref.finalize(self, self._executor.shutdown, cancel_futures=True)
        self._next = None

    def inputs(self, index, tasks=None, size=None):
        """The inner loop's inputs of task `index`.

        Args:
            index: the task's index in the distribution.
            tasks: the view to draw it from (default: `self.tasks`; e.g.
                `meta_test` to evaluate).
            size: its images' side in pixels (default: the view's).

        Returns:
            `TaskInputs`: its T training batches stacked, its whole
            validation set, its training examples' count N and its noise
            seed.
        """
        tasks = tasks or self.tasks
        spec = tasks.config.image_spec
        if size is not None and size != spec.height:
            spec = dataclasses.replace(spec, height=size, width=size)
            task = tasks.sample(index, image_spec=spec)
        else:
            task = tasks.sample(index)
        cfg = self.config
        train = task.train_dataset(
            cfg.batch_size, seed=int(index), drop_remainder=True
        )
        images, labels = next(iter(train.batch(cfg.inner_steps)))
        val_images, val_labels = next(
            iter(task.val_dataset(max(task.num_val, 1)))
        )
        return TaskInputs(
            images,
            labels,
            val_images,
            val_labels,
            np.float32(task.num_train),
            task_seed(cfg.seed, index),
        )

    def distributed_inputs(self, indices, tasks=None, size=None):
        """The `inputs` of tasks `indices`, drawn here and now, one task a
        replica (see `distribute`)."""
        return self.distribute([self.inputs(i, tasks, size) for i in indices])

    def distribute(self, per_task):
        """The replicas' inputs: `per_task[r]`, the `inputs` of a task, go
        to replica r (as they are on one replica)."""
        if len(per_task) == 1:
            return TaskInputs(*map(tf.convert_to_tensor, per_task[0]))
        return TaskInputs(
            *(
                self.strategy.experimental_distribute_values_from_function(
                    lambda ctx, k=k: tf.convert_to_tensor(
                        per_task[ctx.replica_id_in_sync_group][k]
                    )
                )
                for k in range(len(TaskInputs._fields))
            )
        )

    def groups(self, epoch):
        """The epoch's calls of the replicas: `(task indices, image size)`.

        Task c of the epoch is at `config.task_size(c)`; the replicas of
        one call take tasks of one size (c, c + n, ... for n sizes)."""
        cfg = self.config
        replicas = self.strategy.num_replicas_in_sync
        order = sorted(
            range(cfg.tasks_per_epoch), key=lambda c: (cfg.task_size(c), c)
        )
        first = epoch * cfg.tasks_per_epoch
        return [
            (
                [first + c for c in order[start : start + replicas]],
                cfg.task_size(order[start]),
            )
            for start in range(0, cfg.tasks_per_epoch, replicas)
        ]

    def sample(self, indices, size):
        """A future of the `inputs` of tasks `indices` at `size`, drawn on
        the sampler's thread: TensorFlow runs the inner loop
        without holding Python's lock, so the next tasks are read and
        decoded while it runs. One thread: tasks are drawn one at a time,
        in order, as without it."""
        return self._executor.submit(
            lambda: [self.inputs(i, None, size) for i in indices]
        )

    def prefetch(self, epoch):
        """Starts drawing `epoch`'s first tasks (see `sample`), for
        `prefetched(epoch)` to hand over."""
        self._next = (epoch, self.sample(*self.groups(epoch)[0]))

    def prefetched(self, epoch):
        """The future of `epoch`'s first tasks if the last epoch drew them
        (None, after waiting for it, if it drew another epoch's)."""
        if self._next is None:
            return None
        (drawn_for, future), self._next = self._next, None
        future.result()  # raises what sampling raised
        return future if drawn_for == epoch else None
