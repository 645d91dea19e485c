"""A user's folder of images as a dataset source: `ImageFolderSource`.

The folder is laid out as `root/<split>/<class>/<image>` and read with
`tfds.folder_dataset.ImageFolder`. A folder laid out otherwise is refused
with a message naming what is wrong and what the layout should be.
"""

import os

import tensorflow as tf
import tensorflow_datasets as tfds

from base_tf.data.base_source import Source
from base_tf.data.errors import DataError

_IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg")
# The layout a folder of images has, as messages state it.
FOLDER_LAYOUT = (
    "root/<split>/<class>/<image>.png|jpg (e.g. root/train/cat/1.png)"
)


class ImageFolderSource(Source):
    """A user's folder of images, `root/<split>/<class>/<image>`.

    Read with `tfds.folder_dataset.ImageFolder`: class names are the sorted
    class folder names (the same ids in every split), images are .png, .jpg
    or .jpeg files of any size, read as RGB and brought to the `ImageSpec`
    when materialised. The folder is listed once, when the source is made.

    Args:
        root: Path to the folder.
        name: The source's name; default: the folder's base name.

    Raises:
        DataError: If the path does not exist, is not a folder, or holds no
            images in the expected layout.
    """

    def __init__(self, root, name=None):
        root = os.path.abspath(os.path.expanduser(os.fspath(root)))
        _check_folder_layout(root)
        builder = tfds.folder_dataset.ImageFolder(root)
        self._root = root
        self._builder = builder
        self.name = name or os.path.basename(root)
        self.class_names = tuple(builder.info.features["label"].names)
        self.splits = tuple(
            split
            for split, info in builder.info.splits.items()
            if info.num_examples > 0
        )

    @property
    def root(self):
        """The absolute path of the folder."""
        return self._root

    def num_examples(self, split):
        self.check_split(split)
        return self._builder.info.splits[split].num_examples

    def _examples(self, split):
        return self._builder.as_dataset(
            split=split, shuffle_files=False, as_supervised=True
        )

    def _cache_key(self):
        return ("folder", os.path.realpath(self._root))

    def _explain_read_error(self, split):
        for class_name in self.class_names:
            folder = os.path.join(self._root, split, class_name)
            if not os.path.isdir(folder):
                continue
            for filename in sorted(os.listdir(folder)):
                path = os.path.join(folder, filename)
                if not _is_image(filename):
                    continue
                try:
                    tf.io.decode_image(tf.io.read_file(path))
                except tf.errors.OpError:
                    return f"{path} is not a valid image: replace or remove it."
        return "Check that every image file is a valid PNG or JPEG."


def _check_folder_layout(root):
    """Raises a `DataError` naming what is wrong with `root`'s layout."""
    if not os.path.exists(root):
        raise DataError(
            f"No such folder: {root}. Give an existing folder laid out as "
            f"{FOLDER_LAYOUT}, or a TFDS dataset name."
        )
    if not os.path.isdir(root):
        raise DataError(
            f"{root} is a file, not a folder: give a folder laid out as "
            f"{FOLDER_LAYOUT}."
        )
    entries = os.listdir(root)
    if not entries:
        raise DataError(
            f"Folder {root} is empty: put images in it laid out as "
            f"{FOLDER_LAYOUT}."
        )
    if any(_is_image(f) for f in entries):
        raise DataError(
            f"Folder {root} holds images directly; move them into split and "
            f"class sub-folders: {FOLDER_LAYOUT}."
        )
    splits = sorted(d for d in entries if os.path.isdir(os.path.join(root, d)))
    if not splits:
        raise DataError(
            f"Folder {root} has no sub-folders (and no images): lay it out as "
            f"{FOLDER_LAYOUT}."
        )
    class_like = []
    for split in splits:
        split_dir = os.path.join(root, split)
        for class_name in os.listdir(split_dir):
            class_dir = os.path.join(split_dir, class_name)
            if os.path.isdir(class_dir) and any(
                _is_image(f) for f in os.listdir(class_dir)
            ):
                return
        if any(_is_image(f) for f in os.listdir(split_dir)):
            class_like.append(split)
    if class_like:
        raise DataError(
            f"Folder {root} has no class sub-folders: {class_like} hold images "
            "directly, which looks like root/<class>/<image>. Put the class "
            "folders inside a split folder, e.g. "
            f"{os.path.join(root, 'train', class_like[0])}/; the layout is "
            f"{FOLDER_LAYOUT}."
        )
    raise DataError(
        f"Folder {root} holds no .png/.jpg/.jpeg images in class sub-folders: "
        f"lay it out as {FOLDER_LAYOUT}."
    )


def _is_image(filename):
    return filename.lower().endswith(_IMAGE_EXTENSIONS)
