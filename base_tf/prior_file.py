"""A meta-trained prior as one file, `prior.keras`.

The file is the `BayesianSupernet` holding W in Keras's format, and the
model's config carries its `meta_training` record: the config and
settings of the run that learned W (`record`). One file is then all that
adaptation needs, with the same defaults as the run folder it came from
(`meta_training_run` reads a run folder or such a file alike).

A `.keras` file is a zip archive whose `config.json` is the model's
serialized config, so the record is read (`read_record`) without building
the supernet; `load` builds it and checks it fits the record.
"""

import json
import os
import zipfile

import keras

from base_tf.model import BayesianSupernet

# Named for what it holds, as an adaptation's `posterior.json`; `.keras`
# is the suffix `keras.models.load_model` reads the format by.
PRIOR_FILE = "prior.keras"
_KERAS_CONFIG = "config.json"
_HOW_TO_GET_ONE = (
    "pass a meta-training run folder (the --output_dir of `bazel run "
    "//bin:meta_train`) or the prior.keras file one holds "
    "(`meta_training.save_prior_keras(<run folder>)` writes it)"
)


def is_prior_file(path):
    """Whether `path` names a `.keras` file of a prior, not a run folder."""
    return os.fspath(path).endswith(".keras")


def record(config, settings):
    """The `meta_training` record a prior's file carries: its run's
    `MetaTrainingConfig` and settings."""
    return {"config": config.to_dict(), "settings": settings}


def check_path(path):
    """`path` as a str.

    Raises:
        ValueError: `path` does not end in `.keras`.
    """
    path = os.fspath(path)
    if not is_prior_file(path):
        raise ValueError(
            f"{path!r}: a prior's file must end in .keras (the suffix Keras "
            "reads the format by); give a name such as prior.keras."
        )
    return path


def write(model, path):
    """Writes `model` to `path`, whole or not at all (through a temporary
    file); returns `path`.

    Raises:
        ValueError: `path` does not end in `.keras`.
    """
    path = check_path(path)
    partial = path[: -len(".keras")] + ".partial.keras"
    model.save(partial)
    os.replace(partial, path)
    return path


def read_record(path):
    """The `meta_training` record of a prior's file, read from its config
    without building the model.

    Raises:
        ValueError: no such file, not a `.keras` file, not a
            `BayesianSupernet`, or one without the record.
    """
    if not os.path.isfile(path):
        raise ValueError(f"{path!r}: no such file; {_HOW_TO_GET_ONE}.")
    try:
        with zipfile.ZipFile(path) as archive:
            saved = json.loads(archive.read(_KERAS_CONFIG))
    except (OSError, KeyError, ValueError, zipfile.BadZipFile) as e:
        raise ValueError(
            f"{path} is not a .keras file ({type(e).__name__}: {e}); "
            f"{_HOW_TO_GET_ONE}."
        ) from None
    wanted = keras.saving.get_registered_name(BayesianSupernet)
    found = saved.get("registered_name") or saved.get("class_name")
    if found != wanted:
        raise ValueError(
            f"{path} holds a Keras {found!r}, not a meta-trained prior (a "
            f"{wanted}); {_HOW_TO_GET_ONE}."
        )
    held = (saved.get("config") or {}).get("meta_training")
    if not isinstance(held, dict) or not {"config", "settings"} <= set(held):
        raise ValueError(
            f"{path} holds a BayesianSupernet but not the meta-training "
            "config and settings it was learned with, which adaptation "
            "needs: write the file with `meta_training.save_prior_keras"
            "(<run folder>)` (not a bare `model.save`), or pass the run "
            "folder."
        )
    return held


def load(path, config):
    """The `BayesianSupernet` of a prior's file, checked against `config`,
    the `MetaTrainingConfig` of its record.

    Raises:
        ValueError: the file cannot be loaded, or its supernet does not fit
            the record it carries.
    """
    try:
        model = keras.saving.load_model(path, compile=False)
    except (OSError, KeyError, TypeError, ValueError) as e:
        raise ValueError(
            f"{path} could not be loaded ({type(e).__name__}: "
            f"{str(e).splitlines()[0] if str(e) else ''}); was it written by "
            "another version of base-tf or Keras? Write it again with "
            "`meta_training.save_prior_keras(<run folder>)`."
        ) from None
    channels = model.meta_training["settings"].get("image_channels")
    net = model.supernet
    found = (net.space.name, net.channels, net.num_cells, net.num_classes)
    wanted = (
        config.search_space,
        config.channels,
        config.num_cells,
        config.num_classes,
    )
    if found != wanted or net.image_channels != channels:
        raise ValueError(
            f"{path} holds a supernet (space, channels, cells, classes) = "
            f"{found} of {net.image_channels}-channel images, which does not "
            f"fit the config it carries ({wanted}, {channels} channels): was "
            "it edited? Write it again with `save_prior_keras`."
        )
    return model
