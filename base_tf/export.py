"""Exports a trained network as a SavedModel that TF Serving can serve.

After BASE reads an architecture off q(z|D) and trains it as an ordinary
network, `export_saved_model` writes that network in TF Serving's layout:

    <export_base>/<version>/saved_model.pb
                           /variables/...
                           /assets/class_names.txt         one name a line
                           /assets.extra/genotype.json     the architecture

The parts live in their own modules: the `serving_default` signature, which
converts raw images as training did, in `base_tf.serving_signature`; the
version folders, written whole or not at all, in `base_tf.version_folders`;
loading an export back, `load_exported`, in `base_tf.exported_model`.

The genotype's JSON goes to `assets.extra/`, SavedModel's folder for files
that travel with a model but that no graph op reads: `ExportArchive` saves
the assets its tracked resources use (the class-name table's file) and has
no public way to register a file that nothing reads (a `tf.saved_model.Asset`
given to `track` is not saved, and one captured by an endpoint is saved as
the absolute path it had at export time).
"""

import json
import os
import re
import tempfile

import keras
import tensorflow as tf

from base_tf import serving_signature, version_folders
from base_tf.data import preprocessing

# The README's name for it: `base_tf.export.load_exported`.
from base_tf.exported_model import load_exported  # noqa: F401

GENOTYPE_ASSET = "genotype.json"
# SavedModel's folder for files that travel with the model, unread by the
# graph (TF Serving reads its warm-up requests from there).
EXTRA_ASSETS_DIR = "assets.extra"


def export_saved_model(
    model,
    export_base,
    *,
    image_spec,
    class_names,
    genotype=None,
    version=None,
):
    """Writes `model` as version `version` of a TF Serving model.

    The network must map float32 images `[N, H, W, C]` in [0, 1] (the
    `image_spec` size) to logits `[N, K]`, as `base_tf.training` models do;
    the exported `serving_default` signature takes raw uint8 images and
    returns `probabilities`, `classes` and `class_names` (see the module
    docstring of `base_tf.serving_signature`). `export_base` is prepared
    first (`version_folders.prepare_export_base`).

    Args:
        model: A built Keras model, float32 images in [0, 1] -> logits.
        export_base: TF Serving's base path for the model; created if
            missing. Versions are its numeric subfolders.
        image_spec: The `base_tf.data.ImageSpec` the network was trained at;
            served images are converted to it.
        class_names: The K class names, by logit index: non-empty strings
            without line breaks.
        genotype: Optional architecture saved as `assets.extra/genotype.json`:
            a genotype value of `base_tf.search_space` (anything with
            `to_dict()`) or a JSON-ready dict.
        version: A positive int, or None for 1 + the largest version in
            `export_base` (1 if there is none).

    Returns:
        The path of the new version folder, `<export_base>/<version>`.

    Raises:
        ValueError: An argument is invalid, or the model's output does not
            have one logit per class name.
        version_folders.ExportError: `export_base` is not a folder, or
            cannot be written (one line that names it and what to do).
        FileExistsError: Version `version` already exists (nothing is
            overwritten), or another export wrote it meanwhile.
    """
    _check_model(model, image_spec)
    class_names = _check_class_names(class_names)
    genotype_json = _genotype_json(genotype)
    version_folders.check_version(version)
    export_base = os.fspath(export_base)
    version_folders.prepare_export_base(export_base)
    try:
        os.makedirs(export_base, exist_ok=True)
    except OSError as e:
        raise version_folders.write_error(export_base, e) from e
    version = version_folders.choose_version(export_base, version)
    final = os.path.join(export_base, str(version))
    with tempfile.TemporaryDirectory() as scratch:
        # Traced before anything is written, so a model that does not fit
        # fails with nothing on disk.
        archive = serving_signature.serving_archive(
            model, image_spec, class_names, scratch
        )
        with version_folders.staging_folder(export_base, version) as staging:
            try:
                archive.write_out(staging, verbose=False)
                if genotype_json is not None:
                    extra = os.path.join(staging, EXTRA_ASSETS_DIR)
                    os.mkdir(extra)
                    path = os.path.join(extra, GENOTYPE_ASSET)
                    with open(path, "w", encoding="utf-8") as f:
                        f.write(genotype_json)
            except (OSError, tf.errors.OpError) as e:
                raise version_folders.write_error(export_base, e) from e
            version_folders.move_into_place(staging, final)
    return final


def _check_model(model, image_spec):
    if not isinstance(image_spec, preprocessing.ImageSpec):
        raise ValueError(
            "image_spec must be a base_tf.data.ImageSpec (the size the network "
            f"was trained at), got {image_spec!r}."
        )
    if not isinstance(model, keras.Model):
        raise ValueError(f"model must be a keras.Model, got {type(model)}.")
    if not model.built:
        raise ValueError(
            "model is not built: call it on a batch (or load a trained one) "
            "before exporting."
        )
    try:
        inputs = model.inputs
    except (AttributeError, ValueError):
        inputs = None  # A subclassed model: checked when traced.
    if inputs and len(inputs) == 1:
        shape = tuple(inputs[0].shape[1:])
        fits = len(shape) == 3 and all(
            d in (None, s) for d, s in zip(shape, image_spec.shape, strict=True)
        )
        if not fits:
            raise ValueError(
                f"The model takes images of shape {shape} but image_spec is "
                f"{image_spec.shape}; give the ImageSpec it was trained at."
            )


def _check_class_names(class_names):
    if isinstance(class_names, str):
        raise ValueError(
            "class_names must be a list of names, one a class, not a string."
        )
    class_names = list(class_names)
    if not class_names:
        raise ValueError("class_names is empty; give one name a class.")
    for i, name in enumerate(class_names):
        if not isinstance(name, str) or not name or re.search(r"[\r\n]", name):
            raise ValueError(
                f"class_names[{i}] = {name!r}: each class name must be a "
                "non-empty string without line breaks (they are stored one "
                "a line)."
            )
    return class_names


def _genotype_json(genotype):
    if genotype is None:
        return None
    if hasattr(genotype, "to_dict"):
        genotype = genotype.to_dict()
    if not isinstance(genotype, dict):
        raise ValueError(
            "genotype must be a base_tf.search_space genotype or a dict, got "
            f"{type(genotype).__name__}."
        )
    try:
        return json.dumps(genotype) + "\n"
    except TypeError as e:
        raise ValueError(f"genotype is not JSON-serialisable: {e}") from e
