"""An export loaded back: its signature run in Python, its signatures read.

`load_exported` gives the `serving_default` signature
(`base_tf.serving_signature`) of a version folder, or of a TF Serving base
folder's largest version (`base_tf.version_folders`), as an `ExportedModel`
that refuses images that are not uint8; `describe` prints the signatures
as `saved_model_cli show` does, without running anything.
"""

import os

import tensorflow as tf
from tensorflow.core.framework import types_pb2
from tensorflow.core.protobuf import saved_model_pb2

from base_tf import serving_signature, version_folders

_SAVED_MODEL_FILE = "saved_model.pb"


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
        self.signature = loaded.signatures[serving_signature.SIGNATURE_KEY]
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
        return self.signature(**{serving_signature.INPUT_KEY: images})

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
    versions = version_folders.list_versions(path)
    if not versions:
        raise FileNotFoundError(
            f"{path!r} is neither a SavedModel folder (no {_SAVED_MODEL_FILE})"
            " nor a TF Serving base folder with numeric versions; give what "
            "export_saved_model returned or its export_base."
        )
    return os.path.join(path, str(versions[-1]))
