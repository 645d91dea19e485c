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
`tf.train.CheckpointManager`, in a run folder claimed first (see
`meta_training_run`); a finished run's W is also written as one file,
`prior.keras` (`save_prior_keras`). This module holds the epochs, lines
2 and 4-10 (`MetaTrainer`); the config is `meta_training_config`'s, line 3
(drawing the tasks) `meta_training_tasks`'s, and what an epoch reports
`meta_training_summaries`'s.
"""

import os
import time
import weakref

import keras
import tensorflow as tf

from base_tf import inference, meta_training_run
from base_tf.inference import statistics
from base_tf.meta_training_config import MetaTrainingConfig
from base_tf.meta_training_run import (
    CONFIG_FILE,
    PRIOR_FILE,
    RERUN_FIELDS,
    RUN_KIND,
    claim_output_dir,
    is_chief,
    latest,
    load_prior,
    prior_model,
    read_config,
    read_settings,
    run_settings,
    save_prior_keras,
    write_config,
)
from base_tf.meta_training_summaries import (
    PHASES,
    PhaseClock,
    prior_line,
    write_summaries,
)
from base_tf.meta_training_tasks import TaskSampler, task_seed

# The config, the run folder, the tasks and the summaries have modules of
# their own; their public names are served here too, as the library's one
# name for meta-training.
__all__ = [
    "CONFIG_FILE",
    "PHASES",
    "PRIOR_FILE",
    "RERUN_FIELDS",
    "RUN_KIND",
    "MetaTrainer",
    "MetaTrainingConfig",
    "claim_output_dir",
    "latest",
    "load_prior",
    "prior_model",
    "read_config",
    "read_settings",
    "run_settings",
    "save_prior_keras",
    "task_seed",
]


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
        self.is_chief = is_chief(self.strategy)
        # Held while the trainer lives (and always until the process ends).
        self.run_folder = claim_output_dir(
            output_dir, config, tasks, self.strategy
        )
        weakref.finalize(self, self.run_folder.release)
        if self.is_chief:
            write_config(output_dir, config)
        with self.strategy.scope():
            self.model = prior_model(config, spec.channels)
        self.epoch = tf.Variable(
            0, dtype=tf.int64, trainable=False, name="epoch"
        )
        self.checkpoint = tf.train.Checkpoint(
            model=self.model, epoch=self.epoch
        )
        self.manager = tf.train.CheckpointManager(
            self.checkpoint,
            meta_training_run.checkpoint_dir(output_dir, self.strategy),
            max_to_keep=3,
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
        # Draws the tasks, the next ones while the inner loop runs.
        self._sampler = TaskSampler(config, self.tasks, self.strategy)

    @property
    def supernet(self):
        return self.model.supernet

    def _adapt_step(self, w, inputs, temperature, arch_rate, size=None):
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
        return self._adapt_steps[size](w, inputs, temperature, arch_rate)

    def _adapt_one(self, w, inputs, temperature, arch_rate):
        """One task on one replica: the inner loop (the logits stepping by
        `arch_rate`, a tensor) and what to report."""
        net = self.supernet
        hard = self.config.arch_sample != "relaxed"
        sampled_only = self.config.arch_sample == "gdas"
        before = inference.posterior_mean_accuracy(
            net, w, inputs.val_images, inputs.val_labels, hard, sampled_only
        )
        adapted, terms = inference.inner_loop(
            net,
            w,
            inputs.images,
            inputs.labels,
            self.config.inner_loop._replace(arch_learning_rate=arch_rate),
            temperature,
            inputs.num_examples,
            inputs.seed,
        )
        after = inference.posterior_mean_accuracy(
            net,
            adapted,
            inputs.val_images,
            inputs.val_labels,
            hard,
            sampled_only,
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

    def _adapt_replicas(self, w, inputs, temperature, arch_rate):
        per_replica = self.strategy.run(
            self._adapt_one, args=(w, inputs, temperature, arch_rate)
        )
        # Element by element: a multi-worker strategy's reduce would try to
        # stack the fields of a nested value into one tensor.
        flat = [
            self.strategy.reduce(tf.distribute.ReduceOp.SUM, v, axis=None)
            for v in tf.nest.flatten(per_replica)
        ]
        return tf.nest.pack_sequence_as(per_replica, flat)

    def train_epoch(self):
        """Runs one epoch (lines 3-10) and returns its metrics.

        Besides the learning metrics, `time/<phase>` is the wall time in
        seconds of each phase of the epoch (`PHASES`; `time/checkpoint` is
        added by `train`), and `traces` the inner-loop traces so far."""
        cfg = self.config
        clock = PhaseClock()
        epoch = int(self.epoch.numpy())
        temperature = tf.constant(cfg.temperature(epoch), tf.float32)
        arch_rate = tf.constant(cfg.arch_learning_rate_at(epoch), tf.float32)
        w = self.model.meta_parameters
        if cfg.exchangeable_classes:
            w = self.model.exchangeable(w)
        delta_sum, num_finite, sums, entropy = None, 0.0, {}, None
        sampler = self._sampler
        groups = sampler.groups(epoch)
        pending = sampler.prefetched(epoch) or sampler.sample(*groups[0])
        for g, (_, size) in enumerate(groups):
            # The tasks were drawn while the last group adapted: "sampling"
            # is only the wait for them, the time sampling is on the
            # critical path.
            with clock("sampling"):
                inputs = sampler.distribute(pending.result())
            if g + 1 < len(groups):
                pending = sampler.sample(*groups[g + 1])
            elif epoch + 1 < cfg.epochs:
                sampler.prefetch(epoch + 1)
            with clock("adaptation"):
                delta, finite, metrics, ent = self._adapt_step(
                    w, inputs, temperature, arch_rate, size
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
        results.update(clock.seconds())
        write_summaries(
            self._writer, self.supernet.space, epoch, results, entropy / count
        )
        return results

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
        arch_rate = tf.constant(cfg.arch_learning_rate, tf.float32)
        w = self.model.meta_parameters
        self._sampler.prefetched(None)  # no sampling on two threads at once
        sums, count = {}, 0.0
        for start in range(0, num_tasks, replicas):
            inputs = self._sampler.distributed_inputs(
                range(start, start + replicas), tasks
            )
            _, finite, metrics, _ = self._adapt_step(
                w, inputs, temperature, arch_rate
            )
            count += float(finite)
            for k, v in metrics.items():
                sums[k] = sums.get(k, 0.0) + float(v)
        results = {k: v / max(count, 1.0) for k, v in sums.items()}
        results["finite_tasks"] = count
        return results

    def train(self, verbose=1):
        """Trains until `config.epochs`, resuming where the last run stopped.

        The chief then writes the last W as `<output_dir>/prior.keras`
        (`save_prior_keras`), unless this call trained no epoch and the
        file is there already.

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
                print(f"\nepoch {done}: {prior_line(results)}", flush=True)
        prior_file = os.path.join(self.output_dir, PRIOR_FILE)
        if self.is_chief and (history or not os.path.exists(prior_file)):
            save_prior_keras(self.output_dir, prior_file)
        return history
