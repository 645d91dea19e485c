"""Backups of a training run, so a killed run resumes as if never killed.

`Backup` writes the weights and optimizer state after every epoch, so that
a kill at any moment leaves a complete backup, and reads them back;
`EpochSeeds` makes drop-path's draws a function of (seed, epoch, step).
With the input pipeline's seeded stream (`input_pipeline.training_dataset`)
a run resumed at epoch e computes what an uninterrupted run would.
"""

import os

import keras
import numpy as np

from base_tf import run_folder


class Backup(keras.callbacks.Callback):
    """The training state after every epoch, in `folder`; `restore` reads it.

    Keras's `BackupAndRestore` writes its weights file in place, then the
    epoch in a second file: a run killed between the two, or while the
    weights are written, leaves an epoch that does not match its weights,
    or weights that cannot be read. Here epoch e's weights and optimizer
    state (`model.save_weights`) go to their own file,
    `epoch-<e>.weights.h5`, and only then does `training_metadata.json`,
    replaced atomically, name it: whenever the process dies, the metadata
    names a complete file of the epoch it states.

    What else a resumed run needs to continue as an uninterrupted one is a
    function of (seed, epoch, step), not saved: the example order and the
    augmentation (`input_pipeline.training_dataset`) and drop-path's draws
    (`EpochSeeds`).
    """

    METADATA = "training_metadata.json"
    LEGACY_WEIGHTS = "latest.weights.h5"  # BackupAndRestore's file.

    def __init__(self, folder):
        super().__init__()
        self.folder = folder

    def _metadata_path(self):
        return os.path.join(self.folder, self.METADATA)

    def epoch(self):
        """The epoch a run resumes at: 0 when nothing is backed up."""
        path = self._metadata_path()
        return (
            int(run_folder.read_json(path)["epoch"])
            if os.path.isfile(path)
            else 0
        )

    def restore(self, model):
        """Loads the backed-up weights and optimizer state into `model`.

        Returns:
            The epoch to resume at (0, with `model` untouched, when
            nothing is backed up).
        """
        path = self._metadata_path()
        if not os.path.isfile(path):
            return 0
        metadata = run_folder.read_json(path)
        if not model.optimizer.built:
            model.optimizer.build(model.trainable_variables)
        weights = metadata.get("weights", self.LEGACY_WEIGHTS)
        model.load_weights(os.path.join(self.folder, weights))
        return int(metadata["epoch"])

    def on_epoch_end(self, epoch, logs=None):
        os.makedirs(self.folder, exist_ok=True)
        name = f"epoch-{epoch + 1}.weights.h5"
        self.model.save_weights(os.path.join(self.folder, name), overwrite=True)
        run_folder.write_json(
            self._metadata_path(), {"epoch": epoch + 1, "weights": name}
        )
        for old in os.listdir(self.folder):
            if old.endswith(".weights.h5") and old != name:
                os.remove(os.path.join(self.folder, old))


class EpochSeeds(keras.callbacks.Callback):
    """Reseeds the model's random generators at every epoch's start.

    Drop-path draws from a `keras.random.SeedGenerator` in each DARTS cell,
    whose state advances a step with every draw and which no checkpoint
    holds. Setting generator i's state to one drawn from (seed, epoch, i)
    when epoch e starts makes every draw a function of (seed, epoch, step),
    so a run resumed at epoch e draws what an uninterrupted run would.
    """

    def __init__(self, seed):
        super().__init__()
        self.seed = seed

    def on_epoch_begin(self, epoch, logs=None):
        weights = {id(v) for v in self.model.weights}
        # What `variables` adds to `weights`: the generators' states.
        states = [v for v in self.model.variables if id(v) not in weights]
        for i, state in enumerate(states):
            entropy = np.random.SeedSequence([self.seed, epoch, i])
            start = int(entropy.generate_state(1)[0]) % (2**31 - 1)
            state.assign(np.array([start, 0], dtype=state.dtype))
