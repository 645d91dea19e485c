"""Adaptation: the posterior q(z|D) q(theta|D) of a new dataset, from W.

BASE adapts to a dataset D it never saw by running the same optimization
embedding as in meta-training (see `inference.inner_loop`), T' steps from
the meta-trained prior W:

    (phi^0, psi^0) = W,  (phi^t, psi^t) = (phi^{t-1}, psi^{t-1}) + eta * grad L

and reads the architecture off q(z|D) = RelaxedOneHotCategorical(phi^T')
(see `derivation`). T' = 0 gives the prior itself: the architecture of the
multi-task prior (the paper's "Multi-task Prior" row).

D is seen as one K'-class task at s x s pixels: K' of its classes (chosen
by the caller or drawn with the seed; by default the prior's K, or all of
D's when it has fewer) and s the meta-training size unless given. The
cells end in global average pooling, so W serves any s. When K' differs
from the meta-trained K, the prior's classifier is widened or narrowed by
`BayesianSupernet.with_num_classes`: every one of the K' outputs starts
from the mean of the K meta-trained ones (tasks relabel their classes at
random, so these are K estimates of one class prior), and the rest of W is
kept as is.

This module holds the procedure: the task adaptation sees (`make_task`)
and the T' steps (`adapt`). How it is configured is `adaptation_config`'s,
the `Posterior` it returns is `adapted_posterior`'s, and the output folder
a program writes it to is `adaptation_run`'s; all are served here too.
"""

import dataclasses
import time

import numpy as np
import tensorflow as tf

from base_tf import data, inference, progress
from base_tf.adaptation_config import (
    HARD_SAMPLE_TEMPERATURE,
    AdaptationConfig,
    num_classes,
)
from base_tf.adaptation_run import (
    RUN_KIND,
    claim_output_dir,
    find_previous,
    run_settings,
    write_outputs,
)
from base_tf.adapted_posterior import POSTERIOR_FILE, Posterior
from base_tf.inference import statistics

# The config, the posterior and the output folder have modules of their
# own; they are served here too, as the library's one name for adaptation.
__all__ = [
    "HARD_SAMPLE_TEMPERATURE",
    "POSTERIOR_FILE",
    "RUN_KIND",
    "AdaptationConfig",
    "Posterior",
    "adapt",
    "claim_output_dir",
    "find_previous",
    "make_task",
    "num_classes",
    "run_settings",
    "write_outputs",
]


def make_task(source, meta_config, config, data_dir=None, image_channels=3):
    """The K'-class task of `source` that adaptation sees.

    Images are brought to `config.image_size` (default: the meta-training
    size) and the prior's channels (`ImageSpec(s, s, image_channels)`),
    whatever they are on disk. `image_channels` is the prior's:
    `model.supernet.image_channels` of `meta_training.load_prior`.

    Raises:
        DataError: the source has fewer classes than K', a class is
            unknown, or classes have too few examples.
    """
    source = data.load_source(source, data_dir=data_dir)
    k = num_classes(config, meta_config.num_classes, source.num_classes)
    if source.num_classes < k:
        raise data.DataError(
            f"{source.name} has {source.num_classes} classes, fewer than the "
            f"K={k} asked for: give --num_classes<={source.num_classes}."
        )
    classes = config.classes
    if classes is None:
        rng = np.random.default_rng([config.seed, 1])
        classes = sorted(rng.choice(source.num_classes, k, replace=False))
        classes = [int(c) for c in classes]
    size = config.image_size or meta_config.image_size
    task_config = data.TaskConfig(
        data.ImageSpec(size, size, image_channels),
        train_split=config.split,
        train_per_class=config.train_per_class,
        val_per_class=config.val_per_class,
    )
    return data.make_task(source, classes, task_config, seed=config.seed)


def adapt(prior, task, config, verbose=0):
    """Runs T' inner-loop steps on `task` from the prior W.

    Args:
        prior: `(meta_config, model)` as `meta_training.load_prior` returns.
        task: a `data.Task` (see `make_task`); with K' classes other than
            the prior's K, the prior's classifier is made K' wide first
            (`BayesianSupernet.with_num_classes`), and that is the prior
            the posterior starts from and is compared with.
        config: `AdaptationConfig`.
        verbose: 0 prints nothing; 1 prints each phase as it starts and the
            seconds it took: tracing the inner loop, running its T' steps
            (one compiled call, so no step-by-step progress) and evaluating.

    Returns:
        The adapted `Posterior`; its `info` has the validation accuracy of
        the prior's and the posterior's mean networks, the ELBO terms of
        the last step, and the wall and CPU seconds it took.

    Raises:
        FloatingPointError: the inner loop produced a NaN or inf (the
            message suggests a lower learning rate).
    """
    meta_config, model = prior
    start_wall, start_cpu = time.perf_counter(), time.process_time()
    model = model.with_num_classes(task.num_classes)
    net = model.supernet
    w = model.meta_parameters
    inner = meta_config.inner_loop._replace(
        **{
            name: getattr(config, name)
            for name in ("learning_rate", "arch_learning_rate", "arch_sample")
            if getattr(config, name) is not None
        },
        arch_warmup=float(config.arch_warmup),
    )
    temperature = config.temperature
    if temperature is None:
        temperature = (
            HARD_SAMPLE_TEMPERATURE
            if inner.arch_sample != "relaxed"
            else meta_config.temperature(meta_config.epochs - 1)
        )
    terms = None
    if config.steps:
        batches = task.train_dataset(config.batch_size, seed=config.seed)
        images, labels = next(iter(batches.batch(config.steps)))
        run = tf.function(
            lambda *args: inference.inner_loop(net, w, *args),
            autograph=False,
        )
        args = (
            images,
            labels,
            inner,
            tf.constant(temperature, tf.float32),
            tf.constant(task.num_train, tf.float32),
            tf.constant([config.seed, 0], tf.int64),
        )
        with progress.phase("tracing the inner loop", verbose, "  "):
            run.get_concrete_function(*args)
        with progress.phase(
            f"running its {config.steps} steps of {config.batch_size} images "
            "(the first run also optimises the graph)",
            verbose,
            "  ",
        ):
            params, terms = run(*args)
        if not all(np.isfinite(p.numpy()).all() for p in params):
            raise FloatingPointError(
                f"Adaptation produced a NaN or inf within {config.steps} "
                "steps: lower --learning_rate / --arch_learning_rate "
                f"(now {inner.learning_rate} / {inner.arch_learning_rate})."
            )
    else:
        params = w
    with progress.phase(
        "evaluating the prior's and the posterior's mean networks on "
        f"{task.num_val} validation images",
        verbose,
        "  ",
    ):
        hard = inner.arch_sample != "relaxed"
        sampled_only = inner.arch_sample == "gdas"
        before = _accuracy(net, w, task, hard, sampled_only)
        after = _accuracy(net, params, task, hard, sampled_only)
    info = {
        "dataset": task.source_name,
        "class_names": [str(c) for c in task.class_names],
        "class_ids": [int(c) for c in task.class_ids],
        "num_train": task.num_train,
        "num_val": task.num_val,
        "config": dataclasses.asdict(config),
        "temperature": float(temperature),
        "learning_rate": inner.learning_rate,
        "arch_learning_rate": inner.arch_learning_rate,
        "arch_sample": inner.arch_sample,
        "num_classes": task.num_classes,
        "image_size": int(task.image_spec.height),
        # Where the classifier's prior came from (see the module doc).
        "classifier_prior": (
            "meta-trained"
            if task.num_classes == meta_config.num_classes
            else f"mean of the {meta_config.num_classes} meta-trained "
            "classes' outputs"
        ),
        "val_accuracy_prior": before,
        "val_accuracy_posterior": after,
        "wall_seconds": time.perf_counter() - start_wall,
        "cpu_seconds": time.process_time() - start_cpu,
    }
    if terms is not None:
        info["last_step"] = {
            k: float(v[-1]) for k, v in terms._asdict().items()
        }
    # What adaptation learned: the prior's and the posterior's statistics,
    # the posterior's KL terms from the prior, how far each part moved.
    info["prior_statistics"] = statistics.summary(w)
    info["posterior_statistics"] = statistics.summary(params, reference=w)
    info["update_norms"] = statistics.update_norms(params, w)
    return Posterior(
        inference.VariationalParameters(*(np.asarray(p) for p in params)),
        meta_config,
        info,
    )


def _accuracy(net, params, task, hard=False, sampled_only=False):
    """The posterior mean network's accuracy on the task's validation set
    (`hard`: at q(z|D)'s mode, see `inference.posterior_mean_accuracy`)."""
    correct = 0.0
    for images, labels in task.val_dataset(256):
        accuracy = inference.posterior_mean_accuracy(
            net, params, images, labels, hard, sampled_only
        )
        correct += float(accuracy) * int(labels.shape[0])
    return correct / task.num_val
