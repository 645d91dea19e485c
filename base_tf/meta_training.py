"""Meta-training: the BASE algorithm of the poster.

    1: Initialise W_0.
    2: for e = 1..E:
    3:   sample C tasks D_c
    4-9:   for each task: (phi_c^T, psi_c^T) = the inner loop from W_{e-1}
    10:  W_e = W_{e-1} + lambda * (1/C) sum_c ([phi_c^T, psi_c^T] - W_{e-1})

Task c of epoch e is task `e * C + c` of the seeded `TaskDistribution`, and
its noise seed is `(seed, e * C + c)`: a run is a function of its config,
so a resumed run ends with the same W as an uninterrupted one.

Tasks are spread over the replicas of a `tf.distribute` strategy (one task
per replica at a time; C must be a multiple of the replica count); the sum
of the replicas' deltas and of their finite-task counts is all-reduced.
With the default strategy everything runs on one device. Nothing here names
a device.

State: W (the model's weights) and the epoch count are checkpointed with
`tf.train.CheckpointManager`. The run folder is claimed first
(`claim_output_dir`, see `run_folder`): it records every setting that
changes W (`run_settings`: the config and the tasks: datasets, held-out
ones, examples per class, image channels), a rerun with other settings is
refused naming each, and one process at a time writes it. The config is
also written as `meta_training_config.json`, which `read_config` reads.
"""

import concurrent.futures
import contextlib
import dataclasses
import json
import math
import os
import time
import weakref

import keras
import numpy as np
import tensorflow as tf

from base_tf import inference, run_folder
from base_tf.inference import statistics
from base_tf.model import BayesianSupernet

CONFIG_FILE = "meta_training_config.json"
RUN_KIND = "meta-training"
# MetaTrainingConfig fields that do not change W: a rerun may change them.
RERUN_FIELDS = ("checkpoint_every",)


@dataclasses.dataclass(frozen=True)
class MetaTrainingConfig:
    """Everything that determines a meta-training run.

    Args:
        search_space: "darts" or "nas_bench_201".
        channels: C of the supernet's first cells.
        num_cells: the supernet's cells (per stage for NAS-Bench-201).
        num_classes: K, the classes of a task (the classifier's outputs).
        image_size: tasks' images are image_size x image_size (the size
            held-out tasks are evaluated at, and adaptation's default).
        image_sizes: the sizes meta-training tasks are drawn at, or None
            for `(image_size,)`: task c of every epoch is at
            `image_sizes[c % len(image_sizes)]`, as the paper draws 8 of
            each of 32, 64 and 224 pixels among its 24 tasks, so one W
            serves every size. Must hold `image_size`.
        epochs: E.
        tasks_per_epoch: C.
        inner_steps: T.
        batch_size: examples per inner step.
        meta_learning_rate: lambda.
        learning_rate: the inner loop's eta for the weights (mu, rho).
        arch_learning_rate: the inner loop's eta for the logits phi.
        kl_architecture: beta_z.
        kl_weights: beta_theta.
        arch_optimizer: how the inner loop steps phi, "sgd" or "adam"
            (see `inference.InnerLoopConfig`).
        rho_learning_rate: the inner loop's eta for rho, or None for
            `learning_rate`; 0 keeps sigma at `prior_sigma`.
        arch_sample: the z the inner loop trains on, "hard" (a one-hot
            sample, straight-through; the default) or "relaxed" (see
            `inference.InnerLoopConfig`). Hard was chosen when, with it,
            alpha moved (max 3.25) and with relaxed samples it did not
            (max 0.0007); that movement turned out to be the NAS-Bench-201
            pools' batch norm dividing by sqrt(eps) (fixed in ee26a3a), and
            since then neither kind moves alpha at the harness's budget
            (README, "Search quality"). Hard stays the default: each op is
            judged by what it does alone, and only the sampled op need
            run. Configs written before this field existed were relaxed
            (`read_config`).
        initial_temperature, final_temperature: the Gumbel-softmax
            temperature falls geometrically from the first to the last
            epoch.
        prior_sigma: the initial sigma of p(theta).
        exchangeable_classes: whether W's classifier keeps every class at
            the classes' mean (`BayesianSupernet.exchangeable`), before the
            first epoch and after every meta-update. Tasks relabel their
            classes at random, so a class of W stands for no class of a
            task; left free, W's columns are the last tasks' adapted heads,
            and the next task starts from confident wrong predictions (its
            NLL above ln K). With them tied, every task starts at ln K and
            its first steps fit its own labels. (MAML's "zeroing trick",
            Ye & Chao, ICLR 2022, is the same observation.) Measured by
            `benchmarks/inner_loop_fit.py` and `benchmarks/search_quality.py`
            (README, "Search quality").
        seed: seeds W_0, the tasks and the noise.
        checkpoint_every: save every this many epochs (and at the end).
    """

    search_space: str = "darts"
    channels: int = 8
    num_cells: int = 5
    num_classes: int = 5
    image_size: int = 32
    epochs: int = 10
    tasks_per_epoch: int = 4
    inner_steps: int = 5
    batch_size: int = 32
    meta_learning_rate: float = 1.0
    learning_rate: float = 0.05
    arch_learning_rate: float = 0.5
    kl_architecture: float = 1.0
    kl_weights: float = 1e-3
    arch_optimizer: str = "sgd"
    rho_learning_rate: float | None = None
    arch_sample: str = "hard"
    initial_temperature: float = 1.0
    final_temperature: float = 0.2
    prior_sigma: float = 0.02
    exchangeable_classes: bool = False
    seed: int = 0
    checkpoint_every: int = 1
    image_sizes: tuple | None = None

    def __post_init__(self):
        positive = (
            "channels", "num_cells", "num_classes", "image_size", "epochs",
            "tasks_per_epoch", "inner_steps", "batch_size", "checkpoint_every",
        )  # fmt: skip
        for name in positive:
            value = getattr(self, name)
            if (
                isinstance(value, bool)
                or not isinstance(value, int)
                or value < 1
            ):
                raise ValueError(
                    f"MetaTrainingConfig.{name} must be a positive int, got "
                    f"{value!r}."
                )
        for name in (
            "meta_learning_rate", "learning_rate", "arch_learning_rate",
            "initial_temperature", "final_temperature", "prior_sigma",
        ):  # fmt: skip
            value = getattr(self, name)
            if not (
                isinstance(value, (int, float))
                and math.isfinite(value)
                and value > 0
            ):
                raise ValueError(
                    f"MetaTrainingConfig.{name} must be a finite number > 0, "
                    f"got {value!r}."
                )
        for name in ("kl_architecture", "kl_weights"):
            if not getattr(self, name) >= 0:
                raise ValueError(f"MetaTrainingConfig.{name} must be >= 0.")
        if self.arch_optimizer not in inference.OPTIMIZERS:
            raise ValueError(
                "MetaTrainingConfig.arch_optimizer must be one of "
                f"{inference.OPTIMIZERS}, got {self.arch_optimizer!r}."
            )
        if self.arch_sample not in inference.SAMPLES:
            raise ValueError(
                "MetaTrainingConfig.arch_sample must be one of "
                f"{inference.SAMPLES}, got {self.arch_sample!r}."
            )
        if self.image_sizes is not None:
            sizes = tuple(self.image_sizes)
            object.__setattr__(self, "image_sizes", sizes)
            if (
                not sizes
                or len(set(sizes)) != len(sizes)
                or not all(
                    isinstance(v, int) and not isinstance(v, bool) and v >= 1
                    for v in sizes
                )
            ):
                raise ValueError(
                    "MetaTrainingConfig.image_sizes must be distinct positive "
                    f"ints or None, got {self.image_sizes!r}."
                )
            if self.image_size not in sizes:
                raise ValueError(
                    f"MetaTrainingConfig.image_size={self.image_size} must be "
                    f"one of image_sizes {list(sizes)}: the size held-out "
                    "tasks are evaluated at."
                )
        if self.rho_learning_rate is not None and not (
            math.isfinite(self.rho_learning_rate)
            and self.rho_learning_rate >= 0
        ):
            raise ValueError(
                "MetaTrainingConfig.rho_learning_rate must be a finite "
                f"number >= 0 or None, got {self.rho_learning_rate!r}."
            )

    @property
    def inner_loop(self):
        return inference.InnerLoopConfig(
            learning_rate=self.learning_rate,
            arch_learning_rate=self.arch_learning_rate,
            kl_architecture=self.kl_architecture,
            kl_weights=self.kl_weights,
            arch_optimizer=self.arch_optimizer,
            rho_learning_rate=self.rho_learning_rate,
            arch_sample=self.arch_sample,
        )

    @property
    def sizes(self):
        """The image sizes of meta-training tasks, in turn."""
        return self.image_sizes or (self.image_size,)

    def task_size(self, position):
        """The image size of task `position` (0..C-1) of an epoch."""
        return self.sizes[position % len(self.sizes)]

    def temperature(self, epoch):
        """tau_e = tau_0 * (tau_final / tau_0) ** (e / (E - 1))."""
        if self.epochs == 1:
            return float(self.initial_temperature)
        ratio = self.final_temperature / self.initial_temperature
        return float(
            self.initial_temperature * ratio ** (epoch / (self.epochs - 1))
        )

    def to_dict(self):
        fields = dataclasses.asdict(self)
        if self.image_sizes is not None:
            fields["image_sizes"] = list(self.image_sizes)
        return fields


def _task_seed(seed, index):
    return tf.constant([seed, index], tf.int64)


class MetaTrainer:
    """Runs BASE meta-training on a task distribution, with checkpoints.

    Args:
        config: `MetaTrainingConfig`.
        tasks: the `TaskDistribution`; its `meta_train` view is sampled.
        output_dir: where checkpoints, the config and TensorBoard logs go.
        strategy: a `tf.distribute.Strategy`, or None for the default one.

    Raises:
        ValueError: C is not a multiple of the strategy's replicas, or the
            tasks' images are not `config.image_size`.
        run_folder.RunFolderError: `output_dir` cannot be claimed (see
            `claim_output_dir`).
    """

    def __init__(self, config, tasks, output_dir, strategy=None):
        self.config = config
        self.tasks = tasks.meta_train
        self.output_dir = output_dir
        self.strategy = strategy or tf.distribute.get_strategy()
        replicas = self.strategy.num_replicas_in_sync
        if config.tasks_per_epoch % replicas:
            raise ValueError(
                f"tasks_per_epoch={config.tasks_per_epoch} must be a multiple "
                f"of the {replicas} replicas, each adapting one task at a time."
            )
        sizes = len(config.sizes)
        if sizes > 1 and config.tasks_per_epoch % (sizes * replicas):
            raise ValueError(
                f"tasks_per_epoch={config.tasks_per_epoch} must be a multiple "
                f"of the {sizes} image sizes times the {replicas} replica(s): "
                "an epoch draws as many tasks of each size, and the replicas "
                "adapt tasks of one size at a time."
            )
        spec = self.tasks.config.image_spec
        if (spec.height, spec.width) != (config.image_size, config.image_size):
            raise ValueError(
                f"The tasks' images are {spec.height}x{spec.width} but the "
                f"config says image_size={config.image_size}: make them agree."
            )
        self.is_chief = _is_chief(self.strategy)
        # Held while the trainer lives (and always until the process ends).
        self.run_folder = claim_output_dir(
            output_dir, config, tasks, self.strategy
        )
        weakref.finalize(self, self.run_folder.release)
        if self.is_chief:
            _write_config(output_dir, config)
        with self.strategy.scope():
            self.model = _prior_model(config, spec.channels)
        self.epoch = tf.Variable(
            0, dtype=tf.int64, trainable=False, name="epoch"
        )
        self.checkpoint = tf.train.Checkpoint(
            model=self.model, epoch=self.epoch
        )
        # Under a multi-worker strategy every worker saves (saving is a
        # collective), the chief into output_dir, the others into folders
        # of their own that nothing reads.
        checkpoints = os.path.join(output_dir, "checkpoints")
        if not self.is_chief:
            resolver = self.strategy.cluster_resolver
            checkpoints = os.path.join(
                output_dir,
                "workers",
                f"{resolver.task_type}_{resolver.task_id}",
            )
        self.manager = tf.train.CheckpointManager(
            self.checkpoint, checkpoints, max_to_keep=3
        )
        if self.manager.latest_checkpoint:
            self.checkpoint.restore(
                self.manager.latest_checkpoint
            ).assert_existing_objects_matched()
        self._writer = (
            tf.summary.create_file_writer(os.path.join(output_dir, "logs"))
            if self.is_chief
            else tf.summary.create_noop_writer()
        )
        # One traced function per image size (`_adapt_step`), so a run of
        # several sizes never retraces per task.
        self._adapt_steps = {}
        # Draws the next tasks while the inner loop runs (`_sample`); the
        # next epoch's first ones, drawn during this epoch, wait in _next.
        self._sampler = concurrent.futures.ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="task-sampler"
        )
        weakref.finalize(self, self._sampler.shutdown, cancel_futures=True)
        self._next = None

    @property
    def supernet(self):
        return self.model.supernet

    def _adapt_step(self, w, inputs, temperature, size=None):
        """`_adapt_replicas` on tasks of `size` pixels (default: the
        config's `image_size`), traced once for each size."""
        size = size or self.config.image_size
        if size not in self._adapt_steps:
            # No autograph: the inner loop is an explicit tf.while_loop and
            # the rest has no data-dependent Python control flow; converting
            # every function the supernet calls would triple the trace time.
            self._adapt_steps[size] = tf.function(
                self._adapt_replicas, reduce_retracing=True, autograph=False
            )
        return self._adapt_steps[size](w, inputs, temperature)

    def _adapt_one(
        self,
        w,
        images,
        labels,
        val_images,
        val_labels,
        temperature,
        num_examples,
        seed,
    ):
        """One task on one replica: the inner loop and what to report."""
        net = self.supernet
        hard = self.config.arch_sample != "relaxed"
        before = inference.posterior_mean_accuracy(
            net, w, val_images, val_labels, hard
        )
        adapted, terms = inference.inner_loop(
            net,
            w,
            images,
            labels,
            self.config.inner_loop,
            temperature,
            num_examples,
            seed,
        )
        after = inference.posterior_mean_accuracy(
            net, adapted, val_images, val_labels, hard
        )
        delta, finite = inference.task_delta(adapted, w)
        probs = tf.nn.softmax(adapted.logits)
        entropy = -tf.reduce_sum(probs * tf.math.log(probs + 1e-12), -1)
        metrics = {
            "elbo": tf.reduce_mean(terms.elbo),
            "nll": tf.reduce_mean(terms.nll),
            "kl_architecture": terms.kl_architecture[-1],
            "kl_weights": terms.kl_weights[-1],
            "train_accuracy": tf.reduce_mean(terms.accuracy),
            "val_accuracy_before": before,
            "val_accuracy_after": after,
        }
        metrics = {k: v * finite for k, v in metrics.items()}
        return delta, finite, metrics, entropy * finite

    def _adapt_replicas(self, w, inputs, temperature):
        per_replica = self.strategy.run(
            self._adapt_one, args=(w, *inputs[:-1], temperature, *inputs[-1:])
        )
        # Element by element: a multi-worker strategy's reduce would try to
        # stack the fields of a nested value into one tensor.
        flat = [
            self.strategy.reduce(tf.distribute.ReduceOp.SUM, v, axis=None)
            for v in tf.nest.flatten(per_replica)
        ]
        return tf.nest.pack_sequence_as(per_replica, flat)

    def _task_inputs(self, index, tasks=None, size=None):
        """The T training batches, the validation set and N of task `index`
        (at `size` pixels; default: the distribution's)."""
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
        return (
            images,
            labels,
            val_images,
            val_labels,
            np.float32(task.num_train),
            _task_seed(cfg.seed, index),
        )

    def _distributed_inputs(self, indices, tasks=None, size=None):
        return self._distribute(
            [self._task_inputs(i, tasks, size) for i in indices]
        )

    def _distribute(self, per_task):
        """The replicas' inputs of `_task_inputs` of each of their tasks."""
        if len(per_task) == 1:
            return tuple(tf.convert_to_tensor(x) for x in per_task[0])
        return tuple(
            self.strategy.experimental_distribute_values_from_function(
                lambda ctx, k=k: tf.convert_to_tensor(
                    per_task[ctx.replica_id_in_sync_group][k]
                )
            )
            for k in range(len(per_task[0]))
        )

    def train_epoch(self):
        """Runs one epoch (lines 3-10) and returns its metrics.

        Besides the learning metrics, `time/<phase>` is the wall time in
        seconds of each phase of the epoch (`PHASES`; `time/checkpoint` is
        added by `train`), and `traces` the inner-loop traces so far."""
        cfg = self.config
        clock = _PhaseClock()
        epoch = int(self.epoch.numpy())
        temperature = tf.constant(cfg.temperature(epoch), tf.float32)
        w = self.model.meta_parameters
        if cfg.exchangeable_classes:
            w = self.model.exchangeable(w)
        delta_sum, num_finite, sums, entropy = None, 0.0, {}, None
        groups = self._groups(epoch)
        pending = self._prefetched(epoch) or self._sample(*groups[0])
        for g, (_, size) in enumerate(groups):
            # The tasks were drawn while the last group adapted: "sampling"
            # is only the wait for them, the time sampling is on the
            # critical path.
            with clock("sampling"):
                inputs = self._distribute(pending.result())
            if g + 1 < len(groups):
                pending = self._sample(*groups[g + 1])
            elif epoch + 1 < cfg.epochs:
                self._next = (
                    epoch + 1,
                    self._sample(*self._groups(epoch + 1)[0]),
                )
            with clock("adaptation"):
                delta, finite, metrics, ent = self._adapt_step(
                    w, inputs, temperature, size
                )
                finite = float(finite)  # waits for the replicas
            if delta_sum is None:
                delta_sum, entropy = delta, ent
            else:
                delta_sum = tf.nest.map_structure(tf.add, delta_sum, delta)
                entropy = entropy + ent
            num_finite += finite
            for k, v in metrics.items():
                sums[k] = sums.get(k, 0.0) + float(v)
        with clock("meta_update"):
            new_w = inference.meta_update(
                w, delta_sum, tf.constant(num_finite), cfg.meta_learning_rate
            )
            if cfg.exchangeable_classes:
                new_w = self.model.exchangeable(new_w)
            self.model.assign_meta_parameters(new_w)
        self.epoch.assign_add(1)
        count = max(num_finite, 1.0)
        results = {k: v / count for k, v in sums.items()}
        results["finite_tasks"] = num_finite
        results["skipped_tasks"] = cfg.tasks_per_epoch - num_finite
        results["temperature"] = float(temperature)
        results["traces"] = float(self.traces)
        with clock("summaries"):
            # What the prior W has learned, and how far this epoch moved it.
            for k, v in statistics.summary(new_w).items():
                results[f"prior/{k}"] = v
            norms = statistics.update_norms(new_w, w)
            for k, v in zip(
                ("alpha", "mu", "rho"), norms.values(), strict=True
            ):
                results[f"meta_update_norm/{k}"] = v
            results.update(clock.seconds())  # this epoch's, so far
            self._summarise(epoch, results, entropy / count)
        results.update(clock.seconds())
        with self._writer.as_default(step=epoch):
            tf.summary.scalar("time/summaries", results["time/summaries"])
        self._writer.flush()
        return results

    def _groups(self, epoch):
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

    def _sample(self, indices, size):
        """A future of the `_task_inputs` of tasks `indices` at `size`,
        drawn on the sampler's thread: TensorFlow runs the inner loop
        without holding Python's lock, so the next tasks are read and
        decoded while it runs. One thread: tasks are drawn one at a time,
        in order, as without it."""
        return self._sampler.submit(
            lambda: [self._task_inputs(i, None, size) for i in indices]
        )

    def _prefetched(self, epoch):
        """The future of `epoch`'s first tasks if the last epoch drew them
        (None, after waiting for it, if it drew another epoch's)."""
        if self._next is None:
            return None
        (drawn_for, future), self._next = self._next, None
        future.result()  # raises what sampling raised
        return future if drawn_for == epoch else None

    @property
    def traces(self):
        """How many times the inner loop has been traced in this process
        (once for each image size, when nothing retraces)."""
        return sum(
            f.experimental_get_tracing_count()
            for f in self._adapt_steps.values()
        )

    def evaluate(self, tasks, num_tasks, temperature=None):
        """Adapts W to `num_tasks` tasks of `tasks` without updating W.

        Args:
            tasks: a `TaskDistribution` view, e.g. `distribution.meta_test`.
            num_tasks: tasks 0..num_tasks-1 of it are adapted; a multiple
                of the replica count.
            temperature: the Gumbel-softmax temperature (default: the last
                epoch's).

        Returns:
            The tasks' mean metrics (`val_accuracy_before` is the prior's
            mean network, `val_accuracy_after` the adapted posterior's).
        """
        cfg = self.config
        replicas = self.strategy.num_replicas_in_sync
        if num_tasks % replicas:
            raise ValueError(
                f"num_tasks={num_tasks} must be a multiple of the {replicas} "
                "replicas."
            )
        if temperature is None:
            temperature = cfg.temperature(cfg.epochs - 1)
        temperature = tf.constant(temperature, tf.float32)
        w = self.model.meta_parameters
        self._prefetched(None)  # no sampling on two threads at once
        sums, count = {}, 0.0
        for start in range(0, num_tasks, replicas):
            inputs = self._distributed_inputs(
                range(start, start + replicas), tasks
            )
            _, finite, metrics, _ = self._adapt_step(w, inputs, temperature)
            count += float(finite)
            for k, v in metrics.items():
                sums[k] = sums.get(k, 0.0) + float(v)
        results = {k: v / max(count, 1.0) for k, v in sums.items()}
        results["finite_tasks"] = count
        return results

    def _summarise(self, epoch, results, entropy):
        with self._writer.as_default(step=epoch):
            for k, v in results.items():
                tf.summary.scalar(k, v)
            for c, cell_type in enumerate(self.supernet.space.cell_types):
                for e, (i, k) in enumerate(self.supernet.space.edges):
                    tf.summary.scalar(
                        f"posterior_entropy/{cell_type}/{i}_{k}", entropy[c, e]
                    )
        self._writer.flush()

    def train(self, verbose=1):
        """Trains until `config.epochs`, resuming where the last run stopped.

        Returns:
            A list of each run epoch's metrics.
        """
        cfg = self.config
        history = []
        start = int(self.epoch.numpy())
        progress = keras.utils.Progbar(
            cfg.epochs, verbose=verbose, unit_name="epoch"
        )
        if start:
            progress.update(start)
        for epoch in range(start, cfg.epochs):
            results = self.train_epoch()
            history.append(results)
            if results["skipped_tasks"]:
                print(
                    f"\nepoch {epoch}: {int(results['skipped_tasks'])} task(s) "
                    "had a NaN or inf in the inner loop and were left out of "
                    "the meta-update (is a learning rate too high?)"
                )
            done = epoch + 1
            start_save = time.perf_counter()
            if done % cfg.checkpoint_every == 0 or done == cfg.epochs:
                self.manager.save(checkpoint_number=done)
            results["time/checkpoint"] = time.perf_counter() - start_save
            with self._writer.as_default(step=epoch):
                tf.summary.scalar("time/checkpoint", results["time/checkpoint"])
            self._writer.flush()
            progress.update(
                done,
                [
                    (k, results[k])
                    for k in (
                        "elbo",
                        "val_accuracy_before",
                        "val_accuracy_after",
                    )
                ],
            )
            if verbose:
                print(f"\nepoch {done}: {_prior_line(results)}", flush=True)
        return history


# The phases of an epoch `train_epoch` times: waiting for the tasks (drawn
# and decoded on the sampler's thread while the last ones adapt); the inner
# loop with the accuracies before and after it (one
# compiled function a batch of replicas; the first call of each image size
# also traces it); the meta-update; the prior's statistics and the
# TensorBoard summaries (time/summaries is written again once it ends).
PHASES = ("sampling", "adaptation", "meta_update", "summaries")


class _PhaseClock:
    """Wall time of named phases, summed over their occurrences."""

    def __init__(self):
        self._seconds = dict.fromkeys(PHASES, 0.0)

    @contextlib.contextmanager
    def __call__(self, phase):
        start = time.perf_counter()
        try:
            yield
        finally:
            self._seconds[phase] += time.perf_counter() - start

    def seconds(self):
        return {f"time/{k}": v for k, v in self._seconds.items()}


def _prior_line(results):
    """The prior's statistics of an epoch's `results`, as one line."""
    prior = {k.split("/", 1)[1]: v for k, v in results.items() if "prior/" in k}
    prior["kl_architecture"] = results["kl_architecture"]
    prior["kl_weights"] = results["kl_weights"]
    norms = {
        k.split("/", 1)[1]: v
        for k, v in results.items()
        if k.startswith("meta_update_norm/")
    }
    return (
        "prior "
        + statistics.format_summary(prior, norms)
        + (" (KL: the tasks' posteriors from the prior)")
    )


def _prior_model(config, image_channels=3):
    """The `BayesianSupernet` holding W_0 of `config`."""
    return BayesianSupernet(
        config.search_space,
        channels=config.channels,
        num_cells=config.num_cells,
        num_classes=config.num_classes,
        image_channels=image_channels,
        prior_sigma=config.prior_sigma,
        seed=config.seed,
    )


def _is_chief(strategy):
    """Whether this process writes the run's files (always, on one worker)."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.cluster_spec().as_dict():
        return True
    task_type, task_id = resolver.task_type, resolver.task_id
    return task_type in (None, "chief") or (
        task_type == "worker"
        and task_id == 0
        and "chief" not in resolver.cluster_spec().as_dict()
    )


def run_settings(config, tasks):
    """Every setting that changes the W a meta-training run ends with.

    Named as bin/meta_train's flags where they have one: the config but
    `RERUN_FIELDS`, and what the tasks are drawn from (`datasets`: TFDS
    names or folder paths; `held_out_datasets`; examples per class; image
    channels; ...). Where a dataset is stored (`--data_dir`) is not one.

    Args:
        config: the `MetaTrainingConfig`.
        tasks: the `data.TaskDistribution` (any view of it).

    Returns:
        A JSON-ready dict.
    """
    settings = {
        k: v for k, v in config.to_dict().items() if k not in RERUN_FIELDS
    }
    train = tasks.meta_train
    task_config = tasks.config
    held_out, held_out_classes = [], {}
    for source in tasks.sources:
        kept = set(train.class_ids(source.name))
        if not kept:
            held_out.append(source.name)
        elif len(kept) < source.num_classes:
            held_out_classes[source.name] = sorted(
                set(range(source.num_classes)) - kept
            )
    # Given weights (equal ones follow from the datasets and held-out ones).
    weights = train.source_probabilities()
    settings.update(
        datasets=[run_folder.dataset_name(s) for s in tasks.sources],
        held_out_datasets=held_out,
        held_out_classes=held_out_classes,
        dataset_weights=weights if len(set(weights.values())) > 1 else None,
        image_channels=task_config.image_spec.channels,
        train_split=task_config.train_split,
        val_split=task_config.val_split,
        train_per_class=task_config.train_per_class,
        val_per_class=task_config.val_per_class,
        val_fraction=task_config.val_fraction,
        task_seed=tasks.seed,
    )
    return settings


def claim_output_dir(output_dir, config, tasks, strategy=None, flags=()):
    """Claims a meta-training run folder for `run_settings(config, tasks)`.

    The chief of a strategy's workers locks the folder and records the
    settings (or refuses other ones, see `run_folder.claim`); another
    worker checks them. A folder of an older version (a config but no
    settings record) is refused: it did not record its tasks.

    Args:
        output_dir: the run folder.
        config, tasks: see `run_settings`.
        strategy: the `tf.distribute.Strategy` (None: the default one).
        flags: the caller's flag names, to name settings `--name`.

    Returns:
        The `run_folder.RunFolder`; `resumed` says whether the folder held
        this run already.

    Raises:
        run_folder.RunFolderError: the folder cannot hold this run.
    """
    chief = _is_chief(strategy or tf.distribute.get_strategy())
    defaults = MetaTrainingConfig().to_dict()
    return run_folder.claim(
        output_dir,
        RUN_KIND,
        run_settings(config, tasks),
        older_files=(CONFIG_FILE,),
        defaults=defaults,
        flags=flags,
        write=chief,
        lock=chief,
    )


def _write_config(output_dir, config):
    """Writes the config `read_config` reads (the run's, or a resumed
    run's: it may have changed a `RERUN_FIELDS` field)."""
    run_folder.write_json(
        os.path.join(output_dir, CONFIG_FILE), config.to_dict()
    )


def read_settings(output_dir):
    """The settings of a meta-training run folder (see `run_settings`).

    A run of an older version recorded only its config, and always
    meta-trained on 3-channel images: its settings are the config's and
    `image_channels` 3, without the tasks'.

    Raises:
        ValueError: the folder is not a meta-training run.
    """
    record = run_folder.read_settings(output_dir)
    if record is not None:
        kind, settings = record
        if kind != RUN_KIND:
            raise ValueError(
                f"{output_dir!r} holds a {kind} run, not a meta-training "
                "run: pass the --output_dir of a `bazel run //bin:meta_train` "
                "run."
            )
        return settings
    settings = {
        k: v
        for k, v in read_config(output_dir).to_dict().items()
        if k not in RERUN_FIELDS
    }
    settings["image_channels"] = 3
    return settings


def read_config(output_dir):
    """The `MetaTrainingConfig` of a meta-training run folder.

    Raises:
        ValueError: the folder is not a meta-training run.
    """
    path = os.path.join(output_dir, CONFIG_FILE)
    if not os.path.isfile(path):
        raise ValueError(
            f"{output_dir!r} is not a meta-training run: it has no "
            f"{CONFIG_FILE}. Pass the --output_dir of a `bazel run "
            "//bin:meta_train` run."
        )
    with open(path) as f:
        try:
            values = json.load(f)
            # Runs from before `arch_sample` existed trained on relaxed
            # samples, the default then.
            values.setdefault("arch_sample", "relaxed")
            return MetaTrainingConfig(**values)
        except (AttributeError, TypeError, json.JSONDecodeError) as e:
            raise ValueError(
                f"{path} is not a meta-training config ({e}); was it written "
                "by another version of base-tf?"
            ) from None


def latest(output_dir):
    """The path of the last checkpoint of a meta-training run.

    Raises:
        ValueError: the folder is not a meta-training run or has no
            checkpoint yet.
    """
    read_config(output_dir)
    path = tf.train.latest_checkpoint(os.path.join(output_dir, "checkpoints"))
    if path is None:
        raise ValueError(
            f"{output_dir!r} holds a meta-training config but no checkpoint "
            "yet: let the run finish at least one epoch (or rerun it with the "
            "same flags to resume)."
        )
    return path


def load_prior(output_dir):
    """The meta-trained prior W of a meta-training run, for adaptation.

    Args:
        output_dir: the `output_dir` of a `MetaTrainer` (`--output_dir` of
            `bin/meta_train`).

    Returns:
        `(config, model)`: the run's `MetaTrainingConfig` and a
        `BayesianSupernet` holding the last checkpoint's W, for images of
        the run's channels (`model.supernet.image_channels`).

    Raises:
        ValueError: the folder is not a meta-training run, or has no
            checkpoint yet, or its checkpoint does not fit its config.
    """
    config = read_config(output_dir)
    path = latest(output_dir)
    channels = read_settings(output_dir)["image_channels"]
    model = _prior_model(config, channels)
    epoch = tf.Variable(0, dtype=tf.int64, trainable=False)
    checkpoint = tf.train.Checkpoint(model=model, epoch=epoch)
    try:
        checkpoint.restore(path).assert_existing_objects_matched()
    except (AssertionError, ValueError, tf.errors.OpError) as e:
        raise ValueError(
            f"The checkpoint {path} does not fit the config beside it "
            f"({type(e).__name__}: {str(e).splitlines()[0]})."
        ) from None
    return config, model
