"""Exports a trained network as a SavedModel that TF Serving can serve.

After BASE reads an architecture off q(z|D) and trains it as an ordinary
network, `export_saved_model` writes that network in TF Serving's layout:

    <export_base>/<version>/saved_model.pb
                           /variables/...
                           /assets/class_names.txt         one name a line
                           /assets.extra/genotype.json     the architecture

Versions are positive integers; TF Serving serves the largest. A version is
written into a hidden sibling folder (`.<version>.tmp-<pid>-<random>`, a
name TF Serving ignores) and renamed into place when complete, so a crash
never leaves a half-written version behind that TF Serving would load; an
existing version is never overwritten. The exporting process holds an
exclusive `flock` on its staging folder until the rename; a staging folder
that no live process holds and that has not changed for
`STALE_STAGING_SECONDS` was left by an export that died, and the next
export into the same base removes it (`remove_stale_staging`).

The SavedModel is written by Keras's `keras.export.ExportArchive`: it saves
the `tf.Variable`s the serving graph reads, so the export runs wherever a
SavedModel runs: `tf.saved_model.load`, and TF Serving's C++ loader and
`saved_model_cli run`, which restore the variables into a session by name.
(Saving the model's Keras variables instead, which wrap those, serves in
Python but not in a session: "Could not find variable ...".) The archive
tracks the class-name table, not the model: it finds the variables its
endpoint reads by itself, and tracking the model as well would store
every weight twice, once as the Keras variable and once as the
`tf.Variable` inside it (a small network's variables file grew from
5,236 to 10,062 bytes), and a loader would restore both.

The `serving_default` signature (`tensorflow/serving/predict`):

* input `images`: uint8, `[batch, height, width, channels]`, raw pixels in
  0..255, any height and width (at least 1), 1 (grey), 2 (grey+alpha),
  3 (RGB) or 4 (RGBA) channels, any batch size (0 gives empty outputs,
  without running the network, which oneDNN's kernels refuse). The graph
  brings them to the network's `ImageSpec` with
  `base_tf.data.convert_images` and to float32 in [0, 1] with
  `base_tf.data.to_float`: the very functions that prepared the training
  images (bilinear antialiased resize rounded to uint8, ITU-R 601 grey,
  alpha dropped), so a served image meets the network exactly as a
  training image did. The signature declares the input's rank as unknown on
  purpose: a declared rank is not enforced when the signature is run (a
  rank-3 tensor would reach the graph, and TensorFlow would fold an in-graph
  rank check into a constant), so the rank is checked in the graph and a
  wrong one is answered with a message that names the expected layout.
  The dtype is enforced by the runtime: a tensor of another dtype is
  refused before the graph runs (TF Serving's gRPC and REST APIs, a loaded
  signature given a `tf.Tensor`). Clients that convert a NumPy array to
  the declared dtype for the caller, TensorFlow's Python loader and
  `saved_model_cli run`, cast floats to uint8 silently (0.7 becomes 0)
  before any graph op can see them; `ExportedModel` refuses them instead.
* outputs: `probabilities` float32 `[batch, K]` (softmax of the network's
  logits), `classes` int64 `[batch]` (the most probable class) and
  `class_names` string `[batch]` (its name, looked up in the graph in a
  `tf.lookup.StaticHashTable` initialised from the `class_names.txt` asset,
  so the lookup keeps working wherever the folder is moved or copied).

The genotype's JSON goes to `assets.extra/`, SavedModel's folder for files
that travel with a model but that no graph op reads: `ExportArchive` saves
the assets its tracked resources use (the class-name table's file) and has
no public way to register a file that nothing reads (a `tf.saved_model.Asset`
given to `track` is not saved, and one captured by an endpoint is saved as
the absolute path it had at export time).
"""

import contextlib
import errno
import fcntl
import json
import os
import re
import shutil
import tempfile
import time
import uuid

import keras
import tensorflow as tf
from tensorflow.core.framework import types_pb2
from tensorflow.core.protobuf import saved_model_pb2

from base_tf import run_folder
from base_tf.data import preprocessing

SIGNATURE_KEY = "serving_default"
INPUT_KEY = "images"
OUTPUT_KEYS = ("probabilities", "classes", "class_names")
CLASS_NAMES_ASSET = "class_names.txt"
GENOTYPE_ASSET = "genotype.json"
# SavedModel's folder for files that travel with the model, unread by the
# graph (TF Serving reads its warm-up requests from there).
EXTRA_ASSETS_DIR = "assets.extra"
# Channel counts `preprocessing.convert_images` accepts (grey, grey+alpha,
# RGB, RGBA).
INPUT_CHANNELS = (1, 2, 3, 4)
# An unlocked staging folder younger than this may belong to an export
# between creating it and locking it: it is left alone.
STALE_STAGING_SECONDS = 60

_VERSION_NAME = re.compile(r"[0-9]+")
# What `export_saved_model` names its staging folders, and nothing else:
# `.<version>.tmp-<pid>-<8 hex digits>`.
_STAGING_NAME = re.compile(r"\.[0-9]+\.tmp-[0-9]+-[0-9a-f]{8}")
_SAVED_MODEL_FILE = "saved_model.pb"


class ExportError(OSError, ValueError):
    """The export cannot be written where it was asked to go.

    An `OSError` (the file system refused: a read-only or unwritable
    folder, a file where a folder should be, a full disk) that is also a
    `ValueError`, as the binaries report errors of input: its message is one
    line that names the folder and what to do.
    """


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
    docstring). `export_base` is prepared first (`prepare_export_base`).

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
        ExportError: `export_base` is not a folder, or cannot be written
            (one line that names it and what to do).
        FileExistsError: Version `version` already exists (nothing is
            overwritten), or another export wrote it meanwhile.
    """
    _check_model(model, image_spec)
    class_names = _check_class_names(class_names)
    genotype_json = _genotype_json(genotype)
    _check_version(version)
    export_base = os.fspath(export_base)
    prepare_export_base(export_base)
    try:
        os.makedirs(export_base, exist_ok=True)
    except OSError as e:
        raise _write_error(export_base, e) from e
    version = _choose_version(export_base, version)
    final = os.path.join(export_base, str(version))
    with tempfile.TemporaryDirectory() as scratch:
        # Traced before anything is written, so a model that does not fit
        # fails with nothing on disk.
        archive = _serving_archive(model, image_spec, class_names, scratch)
        with _staging_folder(export_base, version) as staging:
            try:
                archive.write_out(staging, verbose=False)
                if genotype_json is not None:
                    extra = os.path.join(staging, EXTRA_ASSETS_DIR)
                    os.mkdir(extra)
                    path = os.path.join(extra, GENOTYPE_ASSET)
                    with open(path, "w", encoding="utf-8") as f:
                        f.write(genotype_json)
            except (OSError, tf.errors.OpError) as e:
                raise _write_error(export_base, e) from e
            _move_into_place(staging, final)
    return final


def prepare_export_base(export_base, *, name="export base", flags=()):
    """Checks that a version can be written in `export_base`; cheap, so a
    program can call it before it loads the network.

    Nothing is created: a missing `export_base` must be creatable, in a
    writable folder (`run_folder.check_directory`, the check of every
    folder a base-tf program writes). The staging folders that exports
    which died left in it are removed (`remove_stale_staging`).
    `export_saved_model` calls it.

    Args:
        export_base: TF Serving's base path for the model.
        name: what the caller calls `export_base`, for messages.
        flags: the caller's flag names: `name` among them is called
            `--name` (see `run_folder.check_directory`).

    Returns:
        The names of the stale staging folders removed, sorted.

    Raises:
        ExportError: `export_base` is a file, a file is in its path, or the
            folder it is or would be made in is read-only or not writable.
    """
    export_base = os.fspath(export_base)
    try:
        run_folder.check_directory(
            export_base,
            name=name,
            flags=flags,
            give="a folder (TF Serving's model base path), new or holding "
            "earlier versions",
        )
    except run_folder.RunFolderError as e:
        raise ExportError(str(e)) from None
    return remove_stale_staging(export_base)


def remove_stale_staging(export_base):
    """Removes the staging folders that exports which died left behind.

    A folder is removed only if it is one of `export_saved_model`'s
    (`.<version>.tmp-<pid>-<random>`, hidden, never a version), no process
    holds its lock (a live export holds it until its version is in place;
    the kernel drops the lock of a process that died, however it died) and
    it has not changed for `STALE_STAGING_SECONDS` (an export locks its
    folder just after creating it). A folder whose lock cannot be tried
    (a file system without `flock`) is left alone. Errors while removing
    are ignored: the folder is tried again at the next export.

    Args:
        export_base: A TF Serving model base path (may not exist).

    Returns:
        The names of the folders removed, sorted.
    """
    if not os.path.isdir(export_base):
        return []
    removed = []
    for name in sorted(os.listdir(export_base)):
        if not _STAGING_NAME.fullmatch(name):
            continue
        path = os.path.join(export_base, name)
        try:
            fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
        except OSError:
            continue  # Gone meanwhile, or not a folder.
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            if time.time() - os.fstat(fd).st_mtime < STALE_STAGING_SECONDS:
                continue
            shutil.rmtree(path, ignore_errors=True)
            if not os.path.exists(path):
                removed.append(name)
        except OSError:
            continue  # Held by a live export, or flock is not supported.
        finally:
            os.close(fd)
    return removed


class ExportedModel:
    """The `serving_default` signature of an export, as loaded in Python.

    Call it as TF Serving would be called: `exported(images=batch)` returns
    the dict of `probabilities`, `classes` and `class_names` tensors. It
    is the loaded signature function with one guard: a loaded signature
    casts NumPy arrays to its input dtype, so float images in [0, 1] would
    silently be truncated to 0 and 1; here `images` must already be uint8.

    Attributes:
        signature: The loaded `serving_default` concrete function.
        path: The version folder it was loaded from.
    """

    def __init__(self, loaded, path):
        self._loaded = loaded  # The signature's variables live as long.
        self.signature = loaded.signatures[SIGNATURE_KEY]
        self.path = path

    def __call__(self, images):
        """Runs the signature on a batch of raw images.

        Args:
            images: uint8 `[batch, height, width, channels]`, a tensor or a
                NumPy array.

        Returns:
            A dict: `probabilities` float32 `[batch, K]`, `classes` int64
            `[batch]`, `class_names` string `[batch]`.

        Raises:
            ValueError: `images` is not uint8.
            tf.errors.InvalidArgumentError: The graph's checks failed (not
                rank 4, an unsupported channel count, an empty image).
        """
        images = tf.convert_to_tensor(images)
        if images.dtype != tf.uint8:
            raise ValueError(
                "images must be uint8 pixels in 0..255, got "
                f"{images.dtype.name} (for float images in [0, 1], send "
                "round(255 * x) as uint8)."
            )
        return self.signature(**{INPUT_KEY: images})

    @property
    def structured_outputs(self):
        """The signature's outputs, name -> `tf.TensorSpec`."""
        return self.signature.structured_outputs


def load_exported(path):
    """Loads an export's `serving_default` signature.

    Args:
        path: A version folder (`<export_base>/<version>`), or a base folder,
            whose largest version is loaded, as TF Serving would.

    Returns:
        An `ExportedModel`: `load_exported(p)(images=uint8_batch)`.

    Raises:
        FileNotFoundError: `path` holds no SavedModel and no version.
    """
    path = _version_folder(os.fspath(path))
    return ExportedModel(tf.saved_model.load(path), path)


def describe(path):
    """The serving signatures of an export, as `saved_model_cli show` prints.

    The text of `saved_model_cli show --dir <path> --all` for the `serve`
    tag-set, without its internal `__saved_model_init_op` and its list of
    ops and concrete functions; read from `saved_model.pb`, nothing is run.

    Args:
        path: A version folder, or a base folder (its largest version).

    Returns:
        A multi-line string.

    Raises:
        FileNotFoundError: `path` holds no SavedModel and no version.
    """
    path = _version_folder(os.fspath(path))
    saved_model = saved_model_pb2.SavedModel()
    with open(os.path.join(path, _SAVED_MODEL_FILE), "rb") as f:
        saved_model.ParseFromString(f.read())
    lines = []
    for meta_graph in saved_model.meta_graphs:
        tags = ", ".join(sorted(meta_graph.meta_info_def.tags))
        lines.append(
            f"MetaGraphDef with tag-set: '{tags}' contains the following "
            "SignatureDefs:"
        )
        for key in sorted(meta_graph.signature_def):
            if key.startswith("__"):
                continue
            signature = meta_graph.signature_def[key]
            lines += ["", f"signature_def['{key}']:"]
            for kind, tensors in (
                ("input", signature.inputs),
                ("output", signature.outputs),
            ):
                lines.append(
                    "  The given SavedModel SignatureDef contains the "
                    f"following {kind}(s):"
                )
                for name in sorted(tensors):
                    lines += _tensor_info_lines(f"{kind}s", name, tensors[name])
            lines.append(f"  Method name is: {signature.method_name}")
    return "\n".join(lines)


def list_versions(export_base):
    """The versions in `export_base`, ascending (TF Serving's numeric folders).

    Args:
        export_base: A TF Serving model base path (may not exist yet).

    Returns:
        A sorted list of ints.
    """
    if not os.path.isdir(export_base):
        return []
    return sorted(
        int(name)
        for name in os.listdir(export_base)
        if _VERSION_NAME.fullmatch(name)
        and os.path.isdir(os.path.join(export_base, name))
    )


def _tensor_info_lines(kind, name, info):
    dtype = types_pb2.DataType.Name(info.dtype)
    if info.tensor_shape.unknown_rank:
        shape = "unknown_rank"
    else:
        dims = tuple(d.size for d in info.tensor_shape.dim)
        shape = str(dims) if len(dims) != 1 else f"({dims[0]})"
    return [
        f"    {kind}['{name}'] tensor_info:",
        f"        dtype: {dtype}",
        f"        shape: {shape}",
        f"        name: {info.name}",
    ]


def _version_folder(path):
    if os.path.isfile(os.path.join(path, _SAVED_MODEL_FILE)):
        return path
    versions = list_versions(path)
    if not versions:
        raise FileNotFoundError(
            f"{path!r} is neither a SavedModel folder (no {_SAVED_MODEL_FILE})"
            " nor a TF Serving base folder with numeric versions; give what "
            "export_saved_model returned or its export_base."
        )
    return os.path.join(path, str(versions[-1]))


def _write_error(export_base, error):
    """The one-line `ExportError` for a file-system error while exporting.

    `error` is an `OSError`, or a `tf.errors.OpError` from TensorFlow's
    file functions, which write the SavedModel.
    """
    if isinstance(error, tf.errors.OpError):
        reason = error.message.strip().splitlines()[0]
        code = None
    else:
        reason = error.strerror or str(error)
        code = error.errno
    if code in (errno.ENOTDIR, errno.EEXIST):
        return ExportError(
            f"Cannot create the export base {export_base!r}: part of its "
            f"path is a file ({reason}). Give a folder path; nothing was "
            "exported."
        )
    if code in (errno.EACCES, errno.EPERM, errno.EROFS):
        advice = "give an export base folder you can write to, or make "
        advice += "this one writable"
    else:
        advice = "fix that, or give another export base folder"
    return ExportError(
        f"Cannot write the export into {export_base!r}: {reason}. Nothing "
        f"was exported; {advice}."
    )


def _check_version(version):
    if version is not None and (
        isinstance(version, bool) or not isinstance(version, int) or version < 1
    ):
        raise ValueError(
            f"version must be a positive int (TF Serving's folder name), got "
            f"{version!r}; or None for the next one."
        )


def _choose_version(export_base, version):
    if version is None:
        existing = list_versions(export_base)
        return (existing[-1] + 1) if existing else 1
    if os.path.exists(os.path.join(export_base, str(version))):
        existing = list_versions(export_base)
        raise FileExistsError(
            f"Version {version} already exists in {export_base!r}; versions "
            "are never overwritten. Give another version or none for the "
            f"next one ({existing[-1] + 1 if existing else version + 1})."
        )
    return version


@contextlib.contextmanager
def _staging_folder(export_base, version):
    """A new hidden folder to write version `version` in, locked meanwhile.

    Hidden and non-numeric, so TF Serving never picks it up; created with
    os.mkdir (not mkdtemp's 0700) so it gets the usual permissions. The
    exclusive `flock` tells `remove_stale_staging` that a live export owns
    it; it lasts until the folder is renamed into place or removed.
    """
    staging = os.path.join(
        export_base, f".{version}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    )
    try:
        os.mkdir(staging)
    except OSError as e:
        raise _write_error(export_base, e) from e
    fd = os.open(staging, os.O_RDONLY | os.O_DIRECTORY)
    try:
        # Without flock on this file system, cleaners cannot try it either.
        with contextlib.suppress(OSError):
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        yield staging
    finally:
        if os.path.exists(staging):
            shutil.rmtree(staging, ignore_errors=True)
        os.close(fd)


def _move_into_place(staging, final):
    # rename(2) is atomic; it fails on a non-empty target (another export
    # that chose the same version meanwhile) and would replace only an
    # empty folder, so nothing written is ever overwritten.
    if os.path.exists(final) and os.listdir(final):
        raise FileExistsError(
            f"{final!r} appeared while exporting (another export?); it was "
            "left untouched. Export again for the next version."
        )
    try:
        os.rename(staging, final)
    except OSError as e:
        raise FileExistsError(
            f"Could not move the export into {final!r}: {e}. It was left "
            "untouched; export again for the next version."
        ) from e


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


def _serving_archive(model, image_spec, class_names, scratch):
    """The `ExportArchive` written: the network, the class-name table and
    the `serving_default` endpoint, traced.

    `scratch` holds `class_names.txt` until the archive copies it into the
    export's `assets/`.

    Raises:
        ValueError: The model's output is not one logit per class name.
    """
    names_path = os.path.join(scratch, CLASS_NAMES_ASSET)
    with open(names_path, "w", encoding="utf-8") as f:
        f.write("".join(f"{name}\n" for name in class_names))
    class_table = tf.lookup.StaticHashTable(
        tf.lookup.TextFileInitializer(
            tf.saved_model.Asset(names_path),
            key_dtype=tf.int64,
            key_index=tf.lookup.TextFileIndex.LINE_NUMBER,
            value_dtype=tf.string,
            value_index=tf.lookup.TextFileIndex.WHOLE_LINE,
        ),
        default_value="",
    )
    num_classes = len(class_names)

    def predict(images):
        logits = model(preprocessing.to_float(images), training=False)
        if logits.shape.rank != 2 or logits.shape[-1] != num_classes:
            raise ValueError(
                f"The model's output has shape {logits.shape}, but there are "
                f"{num_classes} class names: it must give logits [batch, "
                f"{num_classes}], one a class name, in order."
            )
        probabilities = tf.nn.softmax(tf.cast(logits, tf.float32), axis=-1)
        classes = tf.argmax(probabilities, axis=-1, output_type=tf.int64)
        return probabilities, classes

    def serve(images):
        # An empty batch is checked, but never reaches the network: with
        # oneDNN's kernels a network fails on it ("Incompatible shapes:
        # [24] vs. [0,16,16,3]" from a batch norm after a convolution).
        probabilities, classes = tf.cond(
            tf.size(images) > 0,
            lambda: predict(_converted(images, image_spec)),
            lambda: _empty_results(images, num_classes),
        )
        return dict(
            zip(
                OUTPUT_KEYS,
                (probabilities, classes, class_table.lookup(classes)),
                strict=True,
            )
        )

    archive = keras.export.ExportArchive()
    archive.track(class_table)
    endpoint = archive.add_endpoint(
        SIGNATURE_KEY,
        serve,
        input_signature=[tf.TensorSpec(None, tf.uint8, name=INPUT_KEY)],
    )
    endpoint.get_concrete_function()
    return archive


def _empty_results(images, num_classes):
    """The outputs for a batch of no images (once the input is checked)."""
    batch = tf.shape(_checked(images, tf.shape(images)))[0]
    return (
        tf.zeros(tf.stack([batch, num_classes]), tf.float32),
        tf.zeros(tf.stack([batch]), tf.int64),
    )


def _converted(images, image_spec):
    """Checks a raw batch and converts it as `base_tf.data` does.

    `convert_images` needs the channel count statically, which a serving
    input does not have: one branch per supported count, chosen at run time.
    Each branch checks the input before it touches it: checks placed before
    the `tf.switch_case` do not reliably run first once the case is lowered
    and inlined.

    Returns:
        uint8 `[batch, image_spec.height, image_spec.width,
        image_spec.channels]`.
    """
    shape = tf.shape(images)
    # The last dimension, or 0 for a scalar; any value out of range runs
    # the last branch, whose checks fail.
    channels = tf.gather(tf.concat([[0], shape], 0), tf.size(shape))

    def branch(c):
        def convert():
            checked = _checked(images, shape)
            fixed = tf.ensure_shape(checked, [None, None, None, c])
            return preprocessing.convert_images(fixed, image_spec)

        return convert

    return tf.switch_case(channels - 1, [branch(c) for c in INPUT_CHANNELS])


def _checked(images, shape):
    """`images` once it is known to be a batch of valid images."""
    rank_ok = tf.debugging.Assert(
        tf.equal(tf.size(shape), 4),
        [
            "images must be a uint8 batch [batch, height, width, channels] "
            "(rank 4; add a batch dimension for one image); got shape",
            shape,
        ],
        summarize=8,
    )
    with tf.control_dependencies([rank_ok]):
        format_ok = tf.debugging.Assert(
            tf.logical_and(
                tf.reduce_any(tf.equal(shape[-1], INPUT_CHANNELS)),
                tf.reduce_all(shape[1:3] > 0),
            ),
            [
                "images must have height and width >= 1 and 1 (grey), 2 "
                "(grey+alpha), 3 (RGB) or 4 (RGBA) channels; got shape",
                shape,
            ],
            summarize=8,
        )
    with tf.control_dependencies([format_ok]):
        return tf.identity(images)
