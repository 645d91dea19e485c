"""Dataset sources by name: `load_source`, the entry point of `base_tf.data`.

A source is a TFDS name (`"cifar10"`, `"mnist"`, `"emnist/balanced"`, ...,
a `tfds_source.TfdsSource`) or a path to a folder laid out as
`root/<split>/<class>/<image>` (an `image_folder_source.ImageFolderSource`).
What every source offers, and the in-memory split tasks are drawn from, is
in `base_source`.
"""

import os

from base_tf.data.base_source import Source
from base_tf.data.errors import DataError
from base_tf.data.image_folder_source import ImageFolderSource
from base_tf.data.tfds_source import TfdsSource


def load_source(spec, data_dir=None):
    """Returns the `Source` that `spec` names.

    Args:
        spec: A `Source` (returned as is); a path to an image folder (a
            `os.PathLike`, or a str that starts with "/", "./", "../" or
            "~"); or else a TFDS dataset name such as "cifar10".
        data_dir: Where prepared TFDS datasets are (TFDS names only); None
            for TFDS's default (`TFDS_DATA_DIR`, else ~/tensorflow_datasets).

    Returns:
        A `TfdsSource` or `ImageFolderSource`.

    Raises:
        DataError: If `spec` is not a known, prepared TFDS image dataset nor
            a folder laid out as `root/<split>/<class>/<image>`.
    """
    if isinstance(spec, Source):
        return spec
    if isinstance(spec, os.PathLike) or (
        isinstance(spec, str) and _looks_like_path(spec)
    ):
        if data_dir is not None:
            raise DataError(
                f"data_dir applies to TFDS names only; {os.fspath(spec)!r} "
                "is a folder path: drop data_dir."
            )
        return ImageFolderSource(spec)
    if isinstance(spec, str):
        return TfdsSource(spec, data_dir=data_dir)
    raise DataError(
        "A source is a TFDS name (str), a folder path (str or os.PathLike) "
        f"or a Source, got {spec!r}."
    )


def _looks_like_path(spec):
    return (
        os.path.isabs(spec)
        or spec in (".", "..", "~")
        or spec.startswith(("./", "../", "~/", "~", ".\\", "..\\"))
    )
