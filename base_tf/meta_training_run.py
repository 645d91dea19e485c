"""A meta-training run's folder: its settings, config and checkpoints.

The run folder is claimed before any work (`claim_output_dir`, see
`run_folder`): it records every setting that changes W (`run_settings`:
the config and the tasks: datasets, held-out ones, examples per class,
image channels), a rerun with other settings is refused naming each, and
one process at a time writes it. The config is also written as
`meta_training_config.json`, which `read_config` reads; `load_prior` gives
back the W of the last checkpoint.

The prior also travels as one file, `prior.keras` (`save_prior_keras`;
the meta-trainer writes it when the run finishes; see `prior_file`).
`read_config`, `read_settings`, `latest` and `load_prior` take such a file
where they take a run folder, and read the same prior from it, so
`bin/adapt --checkpoint=<run>/prior.keras` adapts as `--checkpoint=<run>`
does.
"""

import json
import os

import tensorflow as tf

from base_tf import prior_file, run_folder
from base_tf.meta_training_config import MetaTrainingConfig
from base_tf.model import BayesianSupernet

CONFIG_FILE = "meta_training_config.json"
# Where the chief's checkpoints of W go (`checkpoint_dir`, `latest`).
CHECKPOINT_DIR = "checkpoints"
RUN_KIND = "meta-training"
# MetaTrainingConfig fields that do not change W: a rerun may change them.
RERUN_FIELDS = ("checkpoint_every",)
PRIOR_FILE = prior_file.PRIOR_FILE


def prior_model(config, image_channels=3, meta_training=None):
    """The `BayesianSupernet` holding W_0 of `config` (`meta_training`:
    the run's record, see `BayesianSupernet`)."""
    return BayesianSupernet(
        config.search_space,
        channels=config.channels,
        num_cells=config.num_cells,
        num_classes=config.num_classes,
        image_channels=image_channels,
        prior_sigma=config.prior_sigma,
        seed=config.seed,
        meta_training=meta_training,
    )


def is_chief(strategy):
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


def checkpoint_dir(output_dir, strategy):
    """Where this process's `tf.train.CheckpointManager` saves W.

    Under a multi-worker strategy every worker saves (saving is a
    collective), the chief into `output_dir`'s checkpoints, the only ones
    `latest` and `load_prior` read, the others into folders of their own
    that nothing reads.

    Args:
        output_dir: the run folder.
        strategy: the `tf.distribute.Strategy` of the run.

    Returns:
        The folder's path.
    """
    if is_chief(strategy):
        return os.path.join(output_dir, CHECKPOINT_DIR)
    resolver = strategy.cluster_resolver
    return os.path.join(
        output_dir,
        "workers",
        f"{resolver.task_type}_{resolver.task_id}",
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
    chief = is_chief(strategy or tf.distribute.get_strategy())
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


def write_config(output_dir, config):
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

    Args:
        output_dir: the run folder, or a prior's `.keras` file (the
            settings of the run that wrote it).

    Raises:
        ValueError: the folder is not a meta-training run (or the file
            not a prior's).
    """
    if prior_file.is_prior_file(output_dir):
        return prior_file.read_record(output_dir)["settings"]
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

    Args:
        output_dir: the run folder, or a prior's `.keras` file (the config
            of the run that wrote it).

    Raises:
        ValueError: the folder is not a meta-training run (or the file
            not a prior's).
    """
    if prior_file.is_prior_file(output_dir):
        return _config(prior_file.read_record(output_dir)["config"], output_dir)
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
        except json.JSONDecodeError as e:
            raise ValueError(
                f"{path} is not a meta-training config ({e}); was it written "
                "by another version of base-tf?"
            ) from None
    return _config(values, path)


def _config(values, where):
    """The `MetaTrainingConfig` of `values` (a config's dict), read from
    `where`."""
    try:
        values = dict(values)
        # Runs from before `arch_sample` existed trained on relaxed
        # samples, the default then.
        values.setdefault("arch_sample", "relaxed")
        return MetaTrainingConfig(**values)
    except (AttributeError, TypeError, ValueError) as e:
        raise ValueError(
            f"{where} is not a meta-training config ({e}); was it written "
            "by another version of base-tf?"
        ) from None


def latest(output_dir):
    """The path of the last checkpoint of a meta-training run.

    Args:
        output_dir: the run folder, or a prior's `.keras` file (then the
            file's own path: it is the prior's one copy).

    Raises:
        ValueError: the folder is not a meta-training run or has no
            checkpoint yet (or the file is not a prior's).
    """
    if prior_file.is_prior_file(output_dir):
        prior_file.read_record(output_dir)
        return os.fspath(output_dir)
    read_config(output_dir)
    path = tf.train.latest_checkpoint(os.path.join(output_dir, CHECKPOINT_DIR))
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
            `bin/meta_train`), or a prior's `.keras` file
            (`save_prior_keras`).

    Returns:
        `(config, model)`: the run's `MetaTrainingConfig` and a
        `BayesianSupernet` holding the last checkpoint's W, for images of
        the run's channels (`model.supernet.image_channels`); the model's
        `meta_training` is the run's record (as `save_prior_keras` stores
        it), whichever of the two it came from.

    Raises:
        ValueError: the folder is not a meta-training run, or has no
            checkpoint yet, or its checkpoint does not fit its config (or
            the file is not a prior's, or does not fit the config it
            carries).
    """
    if prior_file.is_prior_file(output_dir):
        config = read_config(output_dir)
        return config, prior_file.load(output_dir, config)
    config = read_config(output_dir)
    path = latest(output_dir)
    settings = read_settings(output_dir)
    model = prior_model(
        config,
        settings["image_channels"],
        meta_training=prior_file.record(config, settings),
    )
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


def save_prior_keras(output_dir, path=None):
    """Writes a meta-training run's last W as a `.keras` file.

    The file is the run's prior on its own: a `BayesianSupernet` whose
    config carries the run's config and settings, so `load_prior(path)`
    and `bin/adapt --checkpoint=<path>` read the same prior, with the same
    defaults, as from the run folder. It is written whole or not at all
    (through a temporary file).

    Args:
        output_dir: the meta-training run folder.
        path: where to write, a path ending in `.keras` (default:
            `<output_dir>/prior.keras`, `PRIOR_FILE`).

    Returns:
        The path written.

    Raises:
        ValueError: the folder is not a meta-training run or has no
            checkpoint yet, or `path` does not end in `.keras`.
    """
    if path is None:
        path = os.path.join(output_dir, PRIOR_FILE)
    path = prior_file.check_path(path)  # before any work
    _, model = load_prior(output_dir)
    return prior_file.write(model, path)
