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
"""

import dataclasses
import json
import os
import time

import numpy as np
import tensorflow as tf

from base_tf import (
    data,
    derivation,
    inference,
    meta_training,
    plots,
    progress,
    run_folder,
    search_space,
)
from base_tf.inference import statistics

POSTERIOR_FILE = "posterior.json"
RUN_KIND = "adaptation"

# tau at adaptation with hard samples (see `AdaptationConfig.temperature`).
HARD_SAMPLE_TEMPERATURE = 1.0


@dataclasses.dataclass(frozen=True)
class AdaptationConfig:
    """How a prior is adapted to a dataset.

    Args:
        steps: T', the inner-loop steps; 0 keeps the prior.
        batch_size: examples per step.
        learning_rate: eta for (mu, rho); None: the meta-training run's.
        arch_learning_rate: eta for phi; None: the meta-training run's.
        temperature: tau of q(z|D); None: 1 for hard samples, meta-training's
            last epoch's for relaxed ones. A hard sample's law does not
            depend on tau (the argmax of logits plus Gumbel noise, scaled
            or not); tau only shapes the straight-through gradient, which
            is least noisy at 1 (`benchmarks/posterior_learning.py --snr`).
            Measured by `benchmarks/search_quality.py` and
            `benchmarks/adaptation_sweep.py` (README, "Search quality").
        classes: the dataset's K classes (names or ids), or None to draw
            them with `seed` (all of them when the dataset has K).
        split: the split training and validation examples come from.
        train_per_class: training examples per class (None: all).
        val_per_class: validation examples per class, held out of training,
            on which accuracy before and after adaptation is reported.
        rule: the derivation rule (`derivation.RULES`); None: the default.
        seed: seeds the classes, the examples, the batches and the noise.
        num_classes: K', the classes of the task; None: `len(classes)`
            when they are given, else the prior's K, or all of the
            dataset's classes when it has fewer. A K' other than the
            prior's K widens or narrows its classifier (see the module
            doc).
        image_size: the task's images are brought to this size; None: the
            meta-training size.
        arch_sample: the z the inner loop trains on, "relaxed" or "hard"
            (see `inference.InnerLoopConfig`); None: the meta-training
            run's.
        arch_warmup: the fraction of the T' steps, from the first, in
            which the architecture logits hold still while the weights
            fit the task (see `inference.InnerLoopConfig`).
    """

    steps: int = 50
    batch_size: int = 32
    learning_rate: float | None = None
    arch_learning_rate: float | None = None
    temperature: float | None = None
    classes: tuple | None = None
    split: str = "train"
    train_per_class: int | None = 500
    val_per_class: int = 100
    rule: str | None = None
    seed: int = 0
    num_classes: int | None = None
    image_size: int | None = None
    arch_sample: str | None = None
    arch_warmup: float = 0.0

    def __post_init__(self):
        for name in ("steps", "batch_size", "val_per_class", "seed"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int):
                raise ValueError(f"{name} must be an int, got {value!r}.")
        if self.steps < 0 or self.seed < 0:
            raise ValueError("steps and seed must be >= 0.")
        if self.batch_size < 1 or self.val_per_class < 1:
            raise ValueError("batch_size and val_per_class must be >= 1.")
        for name in ("learning_rate", "arch_learning_rate", "temperature"):
            value = getattr(self, name)
            if value is not None and not value > 0:
                raise ValueError(f"{name} must be > 0 or None, got {value!r}.")
        if self.classes is not None:
            object.__setattr__(self, "classes", tuple(self.classes))
        for name, least in (("num_classes", 2), ("image_size", 1)):
            value = getattr(self, name)
            if value is not None and (
                isinstance(value, bool)
                or not isinstance(value, int)
                or value < least
            ):
                raise ValueError(
                    f"{name} must be an int >= {least} or None, got {value!r}."
                )
        if (
            self.num_classes is not None
            and self.classes is not None
            and len(self.classes) != self.num_classes
        ):
            raise ValueError(
                f"{len(self.classes)} classes given for num_classes="
                f"{self.num_classes}: give as many classes as num_classes."
            )
        if isinstance(self.arch_warmup, bool) or not (
            isinstance(self.arch_warmup, (int, float))
            and 0 <= self.arch_warmup < 1
        ):
            raise ValueError(
                f"arch_warmup must be a fraction in [0, 1), got "
                f"{self.arch_warmup!r}."
            )
        if self.arch_sample is not None and (
            self.arch_sample not in inference.SAMPLES
        ):
            raise ValueError(
                f"arch_sample must be one of {inference.SAMPLES} or None, got "
                f"{self.arch_sample!r}."
            )


@dataclasses.dataclass
class Posterior:
    """An adapted posterior q(z|D) q(theta|D) and where it came from.

    Attributes:
        params: `VariationalParameters` (phi, psi) as numpy arrays.
        meta_config: the `MetaTrainingConfig` of the prior it started from.
        info: what was adapted to, how, and the measured results (a
            JSON-ready dict: dataset, class_names, steps, accuracies,
            timings, ...).
    """

    params: inference.VariationalParameters
    meta_config: meta_training.MetaTrainingConfig
    info: dict

    @property
    def space(self):
        """The `SearchSpace` of the supernet."""
        return search_space.get_space(self.meta_config.search_space)

    @property
    def op_probabilities(self):
        """p_e(o) = softmax(phi_e)_o, `[cell types, edges, ops]`."""
        return derivation.op_probabilities(self.params.logits)

    def genotype(self, rule=None):
        """The derived genotype (see `derivation.derive`)."""
        return derivation.derive(self.space, self.op_probabilities, rule)

    def save(self, directory):
        """Writes the posterior: a TF checkpoint of (phi, psi) and a JSON."""
        os.makedirs(directory, exist_ok=True)
        tf.train.Checkpoint(
            **{k: tf.Variable(v) for k, v in self.params._asdict().items()}
        ).write(os.path.join(directory, "posterior"))
        with open(os.path.join(directory, POSTERIOR_FILE), "w") as f:
            json.dump(
                {"meta_config": self.meta_config.to_dict(), **self.info},
                f,
                indent=2,
            )

    @classmethod
    def load(cls, directory):
        """Reads a posterior written by `save` (an `adapt` output folder).

        Raises:
            ValueError: the folder holds no adapted posterior.
        """
        path = os.path.join(directory, POSTERIOR_FILE)
        if not os.path.isfile(path):
            raise ValueError(
                f"{directory!r} holds no adapted posterior (no "
                f"{POSTERIOR_FILE}): pass the --output_dir of a `bazel run "
                "//bin:adapt` run."
            )
        with open(path) as f:
            info = json.load(f)
        meta_config = meta_training.MetaTrainingConfig(
            **info.pop("meta_config")
        )
        reader = tf.train.load_checkpoint(os.path.join(directory, "posterior"))
        params = inference.VariationalParameters(
            *(
                reader.get_tensor(f"{name}/.ATTRIBUTES/VARIABLE_VALUE")
                for name in inference.VariationalParameters._fields
            )
        )
        return cls(params, meta_config, info)


def num_classes(config, meta_num_classes, dataset_num_classes):
    """K' of an adaptation (see `AdaptationConfig.num_classes`)."""
    if config.num_classes is not None:
        return config.num_classes
    if config.classes is not None:
        return len(config.classes)
    return min(meta_num_classes, dataset_num_classes)


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
        before = _accuracy(net, w, task, hard)
        after = _accuracy(net, params, task, hard)
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


def _accuracy(net, params, task, hard=False, batch_size=256):
    """The posterior mean network's accuracy on the task's validation set
    (`hard`: at q(z|D)'s mode, see `inference.posterior_mean_accuracy`)."""
    correct = 0.0
    for images, labels in task.val_dataset(batch_size):
        accuracy = inference.posterior_mean_accuracy(
            net, params, images, labels, hard
        )
        correct += float(accuracy) * int(labels.shape[0])
    return correct / task.num_val


def write_outputs(posterior, output_dir, rule=None):
    """Writes an adapted posterior and what it says, into `output_dir`.

    Files: the posterior (`posterior.*` checkpoint and `posterior.json`),
    `genotype.json` and `genotype.txt` (readable; for NAS-Bench-201 also
    the canonical architecture string), `choices.txt` (every choice's op
    probabilities and entropy), a diagram of each cell
    (`cell_<type>.png`) and `posterior.png` (the op probabilities).

    Args:
        posterior: the `Posterior`.
        output_dir: a new or empty folder.
        rule: the derivation rule (default: the space's).

    Returns:
        `(genotype, paths)`: the derived genotype, and `{name: path}` of
        the files written.

    Raises:
        FileExistsError: `output_dir` already holds an adapted posterior.
    """
    if os.path.exists(os.path.join(output_dir, POSTERIOR_FILE)):
        raise FileExistsError(
            f"{output_dir!r} already holds an adapted posterior; choose "
            "another --output_dir (nothing was overwritten)."
        )
    space = posterior.space
    probs = posterior.op_probabilities
    rule = rule or derivation.default_rule(space)
    genotype = derivation.derive(space, probs, rule)
    posterior.info["rule"] = rule
    os.makedirs(output_dir, exist_ok=True)
    paths = {}

    def write(name, text):
        paths[name] = os.path.join(output_dir, name)
        with open(paths[name], "w") as f:
            f.write(text + "\n")

    write("genotype.json", genotype.to_json(indent=2))
    write("genotype.txt", str(genotype))
    write("choices.txt", derivation.choices_table(space, probs))
    for cell_type in space.cell_types:
        name = f"cell_{cell_type}.png"
        paths[name] = plots.cell_diagram(
            genotype, cell_type, os.path.join(output_dir, name)
        )
    paths["posterior.png"] = plots.posterior_heatmap(
        space,
        probs,
        os.path.join(output_dir, "posterior.png"),
        title=f"q(z|D) after {posterior.info['config']['steps']} steps on "
        f"{posterior.info['dataset']}",
    )
    # Last: posterior.json marks a complete folder (see `find_previous`).
    posterior.save(output_dir)
    paths["posterior"] = os.path.join(output_dir, POSTERIOR_FILE)
    return genotype, paths


def run_settings(checkpoint, dataset, config):
    """Every setting that changes an adaptation's result.

    Named as bin/adapt's flags: the prior (`checkpoint`, the path of the
    meta-training run's last checkpoint, and `prior`, that run's settings),
    the `dataset` (a TFDS name or a folder's path; not where it is
    stored) and the `AdaptationConfig` (`steps` as `adapt_steps`), with
    `num_classes`, `image_size` and `arch_sample` resolved to the values
    used (older records, without them, used the prior's).

    Args:
        checkpoint: the meta-training run folder.
        dataset: the `data.Source` adapted to.
        config: the `AdaptationConfig`.

    Returns:
        A JSON-ready dict.

    Raises:
        ValueError: `checkpoint` is not a meta-training run with a
            checkpoint.
    """
    fields = dataclasses.asdict(config)
    prior = meta_training.read_settings(checkpoint)
    fields.update(_prior_defaults(prior))
    fields["num_classes"] = num_classes(
        config, prior["num_classes"], dataset.num_classes
    )
    for name in ("image_size", "arch_sample"):
        if getattr(config, name) is not None:
            fields[name] = getattr(config, name)
    return {
        "checkpoint": os.path.abspath(meta_training.latest(checkpoint)),
        "prior": prior,
        "dataset": run_folder.dataset_name(dataset),
        "adapt_steps": fields.pop("steps"),
        **fields,
    }


def _prior_defaults(prior):
    """The settings an adaptation of before `num_classes`, `image_size`
    and `arch_sample` existed took from its prior (`prior`: its settings)."""
    return {
        "num_classes": prior["num_classes"],
        "image_size": prior["image_size"],
        "arch_sample": prior.get("arch_sample", "relaxed"),
    }


def claim_output_dir(output_dir, checkpoint, dataset, config, flags=()):
    """Claims an adaptation's output folder (see `run_folder.claim`).

    The folder records `run_settings(checkpoint, dataset, config)`; one of
    another adaptation, of an older version (a posterior but no settings
    record) or of other files is refused, and so is one another process
    is writing. Then `find_previous` says whether it is complete.

    Args:
        output_dir: the output folder.
        checkpoint, dataset, config: see `run_settings`.
        flags: the caller's flag names, to name settings `--name`.

    Returns:
        The `run_folder.RunFolder`, locked until released.

    Raises:
        ValueError: a bad `checkpoint`; `run_folder.RunFolderError`: the
            folder cannot hold this adaptation.
    """
    settings = run_settings(checkpoint, dataset, config)
    return run_folder.claim(
        output_dir,
        RUN_KIND,
        settings,
        older_files=(POSTERIOR_FILE,),
        defaults=_prior_defaults(settings["prior"]),
        flags=flags,
    )


def find_previous(output_dir):
    """The posterior an earlier run of this adaptation left, if complete.

    Adaptation is deterministic for its settings, so a rerun with the same
    ones reuses a complete output folder. Claim the folder first
    (`claim_output_dir`): the claim checks the settings.

    Args:
        output_dir: the output folder.

    Returns:
        The `Posterior` in `output_dir`, or None when it holds none (a new
        folder, or a run that ended before writing it).
    """
    if not os.path.exists(os.path.join(output_dir, POSTERIOR_FILE)):
        return None
    return Posterior.load(output_dir)
