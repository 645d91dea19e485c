"""What a finished training run leaves behind, and reading it back.

`training.train` writes its run folder (see its module doc); the names of
the folder's files are here, with the two values a run is read back as:
the `TrainingResult` that `train` returns (also for a run finished
earlier, which a rerun returns as it is: `finished_run`), and the
`TrainedModel` that `load_trained` reads, for export and classification.
`metadata.json`, written last, marks a finished run.
"""

import dataclasses
import json
import os

import keras

from base_tf import data, run_folder, search_space

METADATA_FILE = "metadata.json"
MODEL_FILE = "model.keras"
GENOTYPE_FILE = "genotype.json"
LOG_FILE = "log.csv"
CURVES_FILE = "curves.png"
BACKUP_DIR = "backup"
TENSORBOARD_DIR = "logs"


@dataclasses.dataclass(frozen=True)
class TrainingResult:
    """What `training.train` measured.

    Attributes:
        test_accuracy: the final network's accuracy on the test split.
        test_loss: its mean cross-entropy there.
        train_accuracy: the main head's accuracy over the last epoch's
            (augmented) training batches, as DARTS reports it.
        parameter_count: DARTS's count (`evaluation.count_parameters`).
        initial_epoch: the epoch this call started at (> 0 on a resume).
        epochs: the epochs the network has been trained for in all.
        output_dir: where the run is.
        metadata: the run's `metadata.json`.
    """

    test_accuracy: float
    test_loss: float
    train_accuracy: float
    parameter_count: int
    initial_epoch: int
    epochs: int
    output_dir: str
    metadata: dict

    @classmethod
    def from_metadata(cls, output_dir, metadata, initial_epoch):
        """The result of the run in `output_dir` that `metadata` (its
        `metadata.json`) describes, of a call that started at
        `initial_epoch`."""
        return cls(
            test_accuracy=metadata["test_accuracy"],
            test_loss=metadata["test_loss"],
            train_accuracy=metadata["train_accuracy"],
            parameter_count=metadata["parameter_count"],
            initial_epoch=initial_epoch,
            epochs=metadata["epochs"],
            output_dir=output_dir,
            metadata=metadata,
        )


@dataclasses.dataclass(frozen=True)
class TrainedModel:
    """A trained network read back by `load_trained`.

    Attributes:
        model: the inference model, float32 images in [0, 1] -> logits.
        genotype: its genotype.
        class_names: the class names, by logit index.
        image_spec: the `data.ImageSpec` images must be brought to.
        metadata: the run's `metadata.json`.
    """

    model: keras.Model
    genotype: object
    class_names: tuple
    image_spec: data.ImageSpec
    metadata: dict


def finished_run(output_dir, config):
    """The metadata of the run finished in `output_dir`, if it is the one
    asked for.

    A rerun of a finished run returns it as it is; one with more epochs
    trains it further; one with fewer cannot undo epochs, so it is refused.

    Args:
        output_dir: the run's folder, claimed first.
        config: the `TrainingConfig` of the rerun.

    Returns:
        The `metadata.json` of the run if it was trained for
        `config.epochs`; None if none finished, or for fewer epochs.

    Raises:
        ValueError: the finished run was trained for more epochs.
    """
    metadata_path = os.path.join(output_dir, METADATA_FILE)
    if not os.path.isfile(metadata_path):
        return None
    finished = run_folder.read_json(metadata_path)
    if finished["epochs"] > config.epochs:
        raise ValueError(
            f"{output_dir!r} holds this run trained for "
            f"{finished['epochs']} epochs, more than the {config.epochs} "
            f"asked: ask for {finished['epochs']} (to read it) or more "
            "(to train it further)."
        )
    return finished if finished["epochs"] == config.epochs else None


def load_trained(model_dir):
    """Reads a finished run of `training.train`.

    Args:
        model_dir: `train`'s output_dir.

    Returns:
        A `TrainedModel`.

    Raises:
        FileNotFoundError: `model_dir` is not a finished training run.
    """
    metadata_path = os.path.join(model_dir, METADATA_FILE)
    model_path = os.path.join(model_dir, MODEL_FILE)
    for path in (metadata_path, model_path):
        if not os.path.isfile(path):
            raise FileNotFoundError(
                f"{model_dir!r} is not a finished training run: it has no "
                f"{os.path.basename(path)}. Give the output_dir of a train "
                "run that ended (bin/train.py --output_dir)."
            )
    metadata = run_folder.read_json(metadata_path)
    genotype = search_space.genotype_from_json(json.dumps(metadata["genotype"]))
    return TrainedModel(
        model=keras.saving.load_model(model_path),
        genotype=genotype,
        class_names=tuple(metadata["class_names"]),
        image_spec=data.ImageSpec(**metadata["image_spec"]),
        metadata=metadata,
    )
