"""Training a derived genotype as an ordinary network, DARTS's recipe.

After BASE adapts to a dataset and reads a genotype off q(z|D), the
genotype is trained from scratch as `evaluation.build_network` builds it.
`train(genotype, dataset, config, output_dir)` does that with `model.fit`
and the recipe of DARTS's (and BASE's) evaluation code, `TrainingConfig`'s
defaults (the CIFAR-10 recipe of NOTES.md):

* SGD with momentum 0.9, learning rate 0.025 decayed to 0 by a cosine over
  all steps (`keras.optimizers.schedules.CosineDecay`; DARTS steps its
  cosine once an epoch, a step-wise cosine is the same curve, smoother);
* weight decay 3e-4 as PyTorch's `torch.optim.SGD(weight_decay=...)`
  applies it, which DARTS uses: an L2 term added to every weight's
  gradient after clipping and before momentum (`optimizers.DartsSGD`,
  whose doc says how Keras's own weight decay differs);
* gradients clipped to global norm 5 (`global_clipnorm`; DARTS's
  `clip_grad_norm_`);
* the auxiliary head's loss with weight 0.4 (DARTS networks);
* drop-path ramped linearly from 0 to 0.2 over the epochs
  (`evaluation.DropPathSchedule`);
* batch 96; pad-and-crop, horizontal flip and cutout 16 (at 32x32, scaled
  for other sizes; `evaluation.augmentation`).

The test split is evaluated after each epoch (DARTS's "valid" queue is the
CIFAR-10 test set) and no choice is made on it: the final network is the
last epoch's.

What a run writes to `output_dir`:

* `settings.json`: what the run is, recorded before any image is read by
  claiming the folder (`training_folder`): a folder holding another run
  is refused naming each differing setting, and nothing in it is touched;
  one process at a time trains in a folder;
* `backup/`: the weights and optimizer state after every epoch
  (`backup`): a run that is killed, or rerun with more epochs, resumes
  from its last finished epoch, and ends with the weights of an
  uninterrupted one, bit for bit when each runs in a fresh process, as
  bin/train does. Within a process that built other Keras models first,
  Keras's global state (its layer names) can change the last bit of some
  float sums, which training then amplifies (measured: 2e-3 after 4
  epochs); `keras.backend.clear_session()` before `train` removes that;
* `log.csv` (`keras.callbacks.CSVLogger`), `logs/` (TensorBoard),
  `curves.png` (`learning_curves`: loss and accuracy per epoch, train and
  test);
* at the end: `model.keras` (the inference model: images -> logits of the
  main head), `genotype.json`, and last `metadata.json`, the mark of a
  finished run. `load_trained(output_dir)` reads them back.

This module holds the procedure (`train`); `TrainingConfig` is
`training_config`'s, and the folder's file names, `TrainingResult`,
`TrainedModel` and `load_trained` are `training_outputs`'s; all are
served here too. Claiming the folder is `training_folder`'s, the epoch
backups `backup`'s, the batches `input_pipeline`'s.
"""

import dataclasses
import os
import time

import keras
import numpy as np

from base_tf import (
    backup,
    data,
    evaluation,
    input_pipeline,
    learning_curves,
    optimizers,
    run_folder,
    search_space,
    training_folder,
)
from base_tf.training_config import TrainingConfig
from base_tf.training_outputs import (
    BACKUP_DIR,
    CURVES_FILE,
    GENOTYPE_FILE,
    LOG_FILE,
    METADATA_FILE,
    MODEL_FILE,
    TENSORBOARD_DIR,
    TrainedModel,
    TrainingResult,
    finished_run,
    load_trained,
)

# The config and what a finished run leaves have modules of their own;
# they are served here too, as the library's one name for training.
__all__ = [
    "BACKUP_DIR",
    "CURVES_FILE",
    "GENOTYPE_FILE",
    "LOG_FILE",
    "METADATA_FILE",
    "MODEL_FILE",
    "TENSORBOARD_DIR",
    "TrainedModel",
    "TrainingConfig",
    "TrainingResult",
    "load_trained",
    "train",
]


def _check_arguments(config, image_spec):
    """Raises unless `config` is a `TrainingConfig` and `image_spec` an
    image spec or None; returns the image spec (None: 32x32x3)."""
    if not isinstance(config, TrainingConfig):
        raise ValueError(
            f"config must be a TrainingConfig; got {type(config).__name__}."
        )
    return training_folder.check_image_spec(image_spec)


def _evaluate(network, images, labels, batch_size):
    """Mean cross-entropy and accuracy of `network`'s logits."""
    logits = network.predict(
        input_pipeline.test_dataset(images, labels, batch_size).map(
            lambda x, y: x
        ),
        verbose=0,
    )
    losses = keras.losses.sparse_categorical_crossentropy(
        labels, logits, from_logits=True
    )
    accuracy = np.mean(np.argmax(logits, axis=-1) == labels)
    return float(np.mean(losses)), float(accuracy)


def _backup(output_dir, config):
    """The run's `backup.Backup`, refused if it holds more epochs than
    `config.epochs`."""
    run_backup = backup.Backup(os.path.join(output_dir, BACKUP_DIR))
    if run_backup.epoch() > config.epochs:
        raise ValueError(
            f"{output_dir!r} holds this run trained for {run_backup.epoch()} "
            f"epochs (unfinished), more than the {config.epochs} asked: ask "
            f"for {run_backup.epoch()} or more to finish it."
        )
    return run_backup


def _compile(model, config, steps, auxiliary):
    """Compiles `model` with the recipe's optimiser and losses: a cosine
    decay over `config.epochs * steps` steps, `optimizers.DartsSGD`, and
    the auxiliary head's loss weighted if it has one."""
    schedule = keras.optimizers.schedules.CosineDecay(
        config.learning_rate, decay_steps=config.epochs * steps, alpha=0.0
    )
    optimizer = optimizers.DartsSGD(
        schedule,
        momentum=config.momentum,
        l2=config.weight_decay,
        global_clipnorm=config.grad_clip or None,
    )
    cross_entropy = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    if auxiliary:
        model.compile(
            optimizer=optimizer,
            loss={"logits": cross_entropy, "aux_logits": cross_entropy},
            loss_weights={"logits": 1.0, "aux_logits": config.auxiliary_weight},
            metrics={"logits": ["accuracy"]},
            jit_compile=config.jit_compile,
        )
    else:
        model.compile(
            optimizer=optimizer,
            loss=cross_entropy,
            metrics=["accuracy"],
            jit_compile=config.jit_compile,
        )


def train(
    genotype,
    dataset,
    config,
    output_dir,
    image_spec=None,
    channels=None,
    num_cells=None,
    data_dir=None,
    verbose=1,
):
    """Trains `genotype`'s network on `dataset` and tests it.

    Trains on the "train" split and tests on "test" (else the first of
    `input_pipeline.TEST_SPLITS` the source has) at `image_spec`; see the
    module doc for the recipe and what is written to `output_dir`. A rerun
    on the same `output_dir` with the same arguments resumes an unfinished
    run from its last epoch, returns a finished one as it is, and with more
    `config.epochs` trains a finished one further (its cosine schedule is
    then recomputed for the new total).

    Args:
        genotype: a genotype, or anything `search_space.resolve_genotype`
            reads.
        dataset: a TFDS name, a folder laid out as
            root/<split>/<class>/<image>, or a `data.Source`.
        config: a `TrainingConfig`.
        output_dir: the run's folder: new, empty, or this run's.
        image_spec: the `data.ImageSpec` images are brought to (default
            32x32x3).
        channels: the network's C (default: the space's, see
            the space's `network_size`).
        num_cells: its cells (NAS-Bench-201: a stage); default: the
            space's.
        data_dir: where TFDS datasets are prepared (None: TFDS's default).
        verbose: `model.fit`'s verbosity (0 silent, 1 progress bar, 2 a
            line an epoch).

    Returns:
        A `TrainingResult`.

    Raises:
        ValueError: a bad genotype, config or dataset (`data.DataError`).
        run_folder.RunFolderError: `output_dir` holds another run or other
            files (nothing in it is changed), or another process is
            training in it (see `training_folder.claim_output_dir`).
    """
    start_time = time.perf_counter()
    genotype = search_space.resolve_genotype(genotype)
    image_spec = _check_arguments(config, image_spec)
    default_channels, default_cells = evaluation.space_of(genotype).network_size
    channels = default_channels if channels is None else channels
    num_cells = default_cells if num_cells is None else num_cells
    source = data.load_source(dataset, data_dir=data_dir)
    test_split = input_pipeline.test_split(source)
    # Before any image is read: the folder is this run's, or refused.
    with training_folder.claim_output_dir(
        output_dir, genotype, source, config, image_spec, channels, num_cells
    ):
        space = evaluation.space_of(genotype)
        auxiliary = space.auxiliary_head and config.auxiliary_weight > 0
        finished = finished_run(output_dir, config)
        if finished is not None:
            return TrainingResult.from_metadata(
                output_dir, finished, finished["epochs"]
            )
        run_backup = _backup(output_dir, config)

        train_images, train_labels, test_images, test_labels = (
            input_pipeline.examples(source, test_split, config, image_spec)
        )
        mean, std = input_pipeline.standardisation(train_images)
        # A constant channel: no division by 0.
        std = [max(s, 1e-3) for s in std]

        keras.utils.set_random_seed(config.seed)
        model = evaluation.build_network(
            genotype,
            source.num_classes,
            image_spec.shape,
            channels=channels,
            num_cells=num_cells,
            auxiliary=auxiliary,
            mean=mean,
            std=std,
            seed=config.seed,
        )
        steps = input_pipeline.steps_per_epoch(
            len(train_labels), config.batch_size
        )
        _compile(model, config, steps, auxiliary)

        initial_epoch = run_backup.restore(model)
        log_path = os.path.join(output_dir, LOG_FILE)
        curves_path = os.path.join(output_dir, CURVES_FILE)
        title = f"{space.name} network on {source.name}"
        callbacks = [
            evaluation.DropPathSchedule(config.drop_path, config.epochs),
            backup.EpochSeeds(config.seed),
            run_backup,
            keras.callbacks.CSVLogger(log_path, append=True),
            learning_curves.LearningCurves(log_path, curves_path, title),
            keras.callbacks.TensorBoard(
                os.path.join(output_dir, TENSORBOARD_DIR), write_graph=False
            ),
        ]
        history = model.fit(
            input_pipeline.training_dataset(
                train_images,
                train_labels,
                config,
                fill=mean,
                start_epoch=initial_epoch,
                auxiliary=auxiliary,
            ),
            epochs=config.epochs,
            initial_epoch=initial_epoch,
            steps_per_epoch=steps,
            validation_data=input_pipeline.test_dataset(
                test_images, test_labels, config.batch_size, auxiliary
            ),
            callbacks=callbacks,
            shuffle=False,  # The dataset is shuffled, seeded, epoch by epoch.
            verbose=verbose,
        )

        network = evaluation.inference_model(model)
        test_loss, test_accuracy = _evaluate(
            network, test_images, test_labels, config.batch_size
        )
        rows = learning_curves.read_log(log_path)
        train_accuracy = (
            learning_curves.main_head(rows[-1], "accuracy")
            if rows
            else float("nan")
        )
        network.save(os.path.join(output_dir, MODEL_FILE))
        with open(os.path.join(output_dir, GENOTYPE_FILE), "w") as f:
            f.write(genotype.to_json(indent=2))
        learning_curves.plot(log_path, curves_path, title)
        metadata = {
            "space": space.name,
            "genotype": genotype.to_dict(),
            "genotype_text": str(genotype),
            "dataset": run_folder.dataset_name(source),
            "train_split": input_pipeline.TRAIN_SPLIT,
            "test_split": test_split,
            "class_names": list(source.class_names),
            "num_classes": source.num_classes,
            "image_spec": dataclasses.asdict(image_spec),
            "channels": channels,
            "num_cells": num_cells,
            "auxiliary": auxiliary,
            "mean": mean,
            "std": std,
            "num_train": len(train_labels),
            "num_test": len(test_labels),
            "epochs": config.epochs,
            "train_accuracy": float(train_accuracy),
            "test_accuracy": float(test_accuracy),
            "test_loss": float(test_loss),
            "parameter_count": evaluation.count_parameters(model),
            "config": dataclasses.asdict(config),
            "epochs_this_call": len(history.epoch),
            "seconds_this_call": time.perf_counter() - start_time,
        }
        run_folder.write_json(os.path.join(output_dir, METADATA_FILE), metadata)
        return TrainingResult.from_metadata(output_dir, metadata, initial_epoch)
