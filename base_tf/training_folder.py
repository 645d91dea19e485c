"""A training run's folder: the settings it records, and its claim.

A training run (`training.train`, bin/train) claims its `output_dir`
(`claim_output_dir`, see `run_folder`) before it reads an image:
the folder records `run_settings` in `settings.json`, every setting that
changes the run's result (genotype, dataset, image size, network size,
config but `RERUN_FIELDS`); a folder holding another run is refused
naming each differing setting, and nothing in it is touched; one process
at a time trains in a folder. A run of an older version recorded the same
in `run.json` (`OLDER_RUN_FILE`); a rerun with its settings takes it over.
"""

import dataclasses
import os

from base_tf import data, evaluation, run_folder, search_space

RUN_KIND = "training"
# Where runs recorded their settings before `run_folder`'s settings.json.
OLDER_RUN_FILE = "run.json"

# TrainingConfig fields a rerun on the same output_dir may change.
RERUN_FIELDS = ("epochs", "jit_compile")


def _image_size(image_spec):
    """An image spec's size as bin/train's --image_size: one side of a
    square, else [height, width]."""
    if image_spec.height == image_spec.width:
        return image_spec.height
    return [image_spec.height, image_spec.width]


def check_image_spec(image_spec):
    """Raises unless `image_spec` is an image spec or None; returns it
    (None: 32x32x3)."""
    image_spec = image_spec or data.ImageSpec()
    if not isinstance(image_spec, data.ImageSpec):
        raise ValueError(
            f"image_spec must be a data.ImageSpec; got {image_spec!r}."
        )
    return image_spec


def _check_config(config):
    """Raises unless `config` is a `training.TrainingConfig`.

    `training` claims its folders with this module, which therefore cannot
    import it: it knows the config by its shape, a dataclass instance with
    the `RERUN_FIELDS` (`training.train` checks the exact type itself).
    """
    if (
        not dataclasses.is_dataclass(config)
        or isinstance(config, type)
        or not all(hasattr(config, name) for name in RERUN_FIELDS)
    ):
        raise ValueError(
            f"config must be a TrainingConfig; got {type(config).__name__}."
        )


def run_settings(
    genotype, dataset, config, image_spec=None, channels=None, num_cells=None
):
    """Every setting that changes a training run's result.

    Named as bin/train's flags: the genotype (as a dict), the dataset (a
    TFDS name or a folder's path; not where it is stored), the image size
    and channels, the network's size (defaults filled in) and every
    `TrainingConfig` field but `RERUN_FIELDS` (more epochs extend a run;
    XLA changes how, not what, is computed).

    Args:
        genotype: a genotype, or anything `search_space.resolve_genotype`
            reads.
        dataset: the `data.Source` trained on.
        config: a `training.TrainingConfig`.
        image_spec, channels, num_cells: as `training.train` takes them.

    Returns:
        A JSON-ready dict.

    Raises:
        ValueError: a bad genotype, config or image spec.
    """
    genotype = search_space.resolve_genotype(genotype)
    _check_config(config)
    image_spec = check_image_spec(image_spec)
    default_channels, default_cells = evaluation.space_of(genotype).network_size
    fields = dataclasses.asdict(config)
    for name in RERUN_FIELDS:
        del fields[name]
    return {
        "genotype": genotype.to_dict(),
        "dataset": run_folder.dataset_name(dataset),
        "image_size": _image_size(image_spec),
        "image_channels": image_spec.channels,
        "channels": default_channels if channels is None else channels,
        "num_cells": default_cells if num_cells is None else num_cells,
        **fields,
    }


def _older_settings(output_dir):
    """The settings a run of an older version recorded in `run.json`, as
    `run_settings` names them; None without one."""
    path = os.path.join(output_dir, OLDER_RUN_FILE)
    if not os.path.isfile(path):
        return None
    try:
        request = run_folder.read_json(path)
        spec = data.ImageSpec(**request["image_spec"])
        return {
            "genotype": request["genotype"],
            "dataset": request["dataset"],
            "image_size": _image_size(spec),
            "image_channels": spec.channels,
            "channels": request["channels"],
            "num_cells": request["num_cells"],
            **request["config"],
        }
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise run_folder.RunFolderError(
            f"{path} is not a training run's record ({e}): was it edited? "
            "Restore it, or move the folder away."
        ) from None


def claim_output_dir(
    output_dir,
    genotype,
    dataset,
    config,
    image_spec=None,
    channels=None,
    num_cells=None,
    flags=(),
):
    """Claims a training run's folder (see `run_folder.claim`).

    The folder records `run_settings(...)` of the arguments; one of
    another run or of other files is refused, naming each differing
    setting, and so is one another process is training in.
    `training.train` claims its folder itself; a program claims it first
    to have the settings named as its `flags` (claims in one process share
    the lock).

    Args:
        output_dir: the run's folder.
        genotype, dataset, config, image_spec, channels, num_cells: see
            `run_settings`.
        flags: the caller's flag names, to name settings `--name`.

    Returns:
        The `run_folder.RunFolder`, locked until released; use it as a
        context manager.

    Raises:
        ValueError: a bad argument; `run_folder.RunFolderError`: the
            folder cannot hold this run.
    """
    return run_folder.claim(
        output_dir,
        RUN_KIND,
        run_settings(
            genotype, dataset, config, image_spec, channels, num_cells
        ),
        older_record=_older_settings,
        flags=flags,
    )
