"""Learning curves: a training run's loss and accuracy, epoch by epoch.

`keras.callbacks.CSVLogger` writes a row of metrics an epoch to a CSV
file; `read_log` reads it back (a resumed run's repeated epoch once),
`plot` draws the main head's loss and accuracy, train and test, to a PNG
(`plots.learning_curves`), and the `LearningCurves` callback redraws the
picture after every epoch.
"""

import csv
import os

import keras

from base_tf import plots


def read_log(path):
    """The rows of a `CSVLogger` file, one per epoch (the last of repeats).

    A run killed between logging an epoch and backing it up logs that
    epoch again when resumed; the later row is kept.

    Returns:
        A list of dicts of floats, by epoch, each with an "epoch" key.
    """
    if not os.path.isfile(path):
        return []
    rows = {}
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            values = {
                k: float(v) for k, v in row.items() if v not in ("", None)
            }
            rows[int(values["epoch"])] = values
    return [rows[e] for e in sorted(rows)]


def main_head(row, metric, prefix=""):
    """A metric of the main head, whichever name Keras logged it under."""
    for name in (f"{prefix}logits_{metric}", f"{prefix}{metric}"):
        if name in row:
            return row[name]
    return float("nan")


def plot(log_path, png_path, title=None):
    """Draws loss and accuracy per epoch, train and test, to a PNG.

    Losses are the main head's cross-entropy (without the auxiliary
    term); train figures are the epoch's means over its augmented batches.

    Returns:
        `png_path`, or None when the log has no epoch yet.
    """
    rows = read_log(log_path)
    if not rows:
        return None
    curves = {
        metric: {
            label: [main_head(row, metric, prefix) for row in rows]
            for prefix, label in (("", "train"), ("val_", "test"))
        }
        for metric in ("loss", "accuracy")
    }
    epochs = [row["epoch"] + 1 for row in rows]
    return plots.learning_curves(epochs, curves, png_path, title)


class LearningCurves(keras.callbacks.Callback):
    """Redraws the learning curves after every epoch (after CSVLogger)."""

    def __init__(self, log_path, png_path, title):
        super().__init__()
        self.log_path, self.png_path, self.title = log_path, png_path, title

    def on_epoch_end(self, epoch, logs=None):
        plot(self.log_path, self.png_path, self.title)
