"""Tiny-ImageNet-200 as a TFDS dataset, `tiny_imagenet`, from its manual folder.

TFDS ships no builder for Tiny-ImageNet (200 ImageNet classes at 64x64), and
its files cannot be downloaded by a script (ImageNet's terms), so this
builder reads the official `tiny-imagenet-200.zip`, extracted or not, from
TFDS's manual folder, `<data_dir>/downloads/manual/`. Importing `base_tf.data`
registers it; then, once prepared, plain `tfds.load("tiny_imagenet")` works:

    python -m base_tf.data.prepare tiny_imagenet [--data_dir=DIR]

(or `prepare()`; `tools/setup.sh` does it for the shared subset).

Classes: label ids follow the sorted WordNet ids (wnids) of `wnids.txt`;
each class is named by the first synonym of its wnid's WordNet words in
`words.txt`, with spaces made underscores, as Keras' ImageNet class index
names them: n02124075 "Egyptian cat" is `Egyptian_cat`, n03100240
"convertible" is `convertible`. Should two first synonyms coincide, each is
suffixed with its wnid (`crane_n02012849`); the 200 classes of the official
release have none alike. The wnids themselves, in label order, are the
dataset's metadata: `builder.info.metadata["wnids"]`.

Splits: `train` (500 images a class in the official release) and
`validation` (50 a class, labelled by `val/val_annotations.txt`). The
official `test` images are unlabelled and left out.
"""

import collections
import os

import tensorflow_datasets as tfds

from base_tf.data import random_access

NUM_CLASSES = 200
IMAGE_SHAPE = (64, 64, 3)
# The folder the official zip extracts to, and the zip itself.
# The WordNet ids of the classes that overlap CIFAR-10's (cat, dog, bird,
# frog, automobile, truck, ship, and a deer-like gazelle;
# ../shared/data/README.md): held out of meta-training when CIFAR-10 is the
# unseen dataset, as configs/imagenet_tiny.cfg does.
CIFAR10_OVERLAP = (
    "n02124075", "n02123045", "n02123394",  # cat
    "n02106662", "n02099712", "n02099601", "n02094433", "n02085620",
    "n02113799",  # dog
    "n02058221", "n02056570", "n01855672", "n02002724",  # bird
    "n01641577", "n01644900",  # frog
    "n04285008", "n03100240", "n02814533", "n03670208",  # automobile
    "n03796401", "n03977966",  # truck
    "n03662601", "n03447447",  # ship
    "n02423022",  # gazelle (deer-like)
)  # fmt: skip

FOLDER = "tiny-imagenet-200"
ZIP = "tiny-imagenet-200.zip"

_DESCRIPTION = """\
Tiny-ImageNet-200 (Stanford CS231n): 200 ImageNet classes, images downsampled
to 64x64 RGB JPEG (about 2% are grayscale JPEGs, decoded as RGB); 500
training and 50 validation images a class. Classes are named by the first
WordNet synonym of their wnid (spaces made underscores); label ids follow the
sorted wnids, which `info.metadata["wnids"]` lists.
"""

_CITATION = """\
@article{le2015tiny,
  title={Tiny ImageNet Visual Recognition Challenge},
  author={Le, Ya and Yang, Xuan},
  journal={CS 231N},
  year={2015}
}
"""


class TinyImagenet(tfds.core.GeneratorBasedBuilder):
    """Tiny-ImageNet-200: 200 ImageNet classes at 64x64, read from manual_dir.

    The dataset name is `tiny_imagenet` (TFDS derives it from the class
    name).
    """

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {
        "1.0.0": "train and validation splits of the official layout.",
    }
    MANUAL_DOWNLOAD_INSTRUCTIONS = f"""\
Download the official {ZIP} (http://cs231n.stanford.edu/{ZIP}; ImageNet's
terms: non-commercial research and teaching use) and put it in the manual
folder, `<data_dir>/downloads/manual/` (e.g.
~/tensorflow_datasets/downloads/manual/{ZIP}), or extract it there so that
`<data_dir>/downloads/manual/{FOLDER}/` holds wnids.txt, words.txt,
train/<wnid>/images/*.JPEG and val/images/*.JPEG with
val/val_annotations.txt. Then prepare it:
`python -m base_tf.data.prepare tiny_imagenet --data_dir=<data_dir>`.
"""

    def _info(self):
        return tfds.core.DatasetInfo(
            builder=self,
            description=_DESCRIPTION,
            features=tfds.features.FeaturesDict(
                {
                    "image": tfds.features.Image(
                        shape=IMAGE_SHAPE, encoding_format="jpeg"
                    ),
                    # Named from words.txt when the splits are generated.
                    "label": tfds.features.ClassLabel(num_classes=NUM_CLASSES),
                    "file_name": tfds.features.Text(),
                }
            ),
            supervised_keys=("image", "label"),
            homepage="https://cs231n.stanford.edu/",
            citation=_CITATION,
            metadata=tfds.core.MetadataDict(),
        )

    def _split_generators(self, dl_manager):
        root = _find_root(dl_manager)
        wnids = _read_wnids(root)
        names = class_names(wnids, _read_words(root))
        self.info.features["label"].names = names
        self.info.metadata["wnids"] = list(wnids)
        label_of = {wnid: label for label, wnid in enumerate(wnids)}
        return {
            "train": self._generate_examples(
                _train_files(root, wnids), label_of
            ),
            "validation": self._generate_examples(
                _val_files(root, label_of), label_of
            ),
        }

    def _generate_examples(self, files, label_of):
        # The file name is the key: unique in a split, and it fixes the
        # order TFDS writes the examples in.
        for path, wnid in files:
            file_name = os.path.basename(path)
            yield (
                file_name,
                {
                    "image": path,
                    "label": label_of[wnid],
                    "file_name": file_name,
                },
            )


def class_names(wnids, words):
    """The class name of each wnid: its first WordNet synonym, underscored.

    Args:
        wnids: The wnids, in label order.
        words: `{wnid: "synonym, synonym, ..."}`, as in words.txt.

    Returns:
        A list of unique names, one a wnid. A first synonym shared by several
        wnids is suffixed with "_<wnid>" for each of them.
    """
    first = []
    for wnid in wnids:
        synonym = words[wnid].split(",")[0].strip()
        first.append("_".join(synonym.split()) or wnid)
    counts = collections.Counter(first)
    return [
        name if counts[name] == 1 else f"{name}_{wnid}"
        for name, wnid in zip(first, wnids, strict=True)
    ]


def _find_root(dl_manager):
    """The extracted tiny-imagenet-200 folder in the manual folder."""
    manual = dl_manager.manual_dir
    if (manual / FOLDER).is_dir():
        return manual / FOLDER
    if (manual / ZIP).exists():
        return dl_manager.extract(manual / ZIP) / FOLDER
    raise FileNotFoundError(
        f"Neither {manual / FOLDER}/ nor {manual / ZIP} exists. "
        + TinyImagenet.MANUAL_DOWNLOAD_INSTRUCTIONS
    )


def _read_lines(path):
    if not path.exists():
        raise FileNotFoundError(
            f"{path} is missing: the folder is not the official {FOLDER} "
            f"layout. {TinyImagenet.MANUAL_DOWNLOAD_INSTRUCTIONS}"
        )
    return [line for line in path.read_text().splitlines() if line.strip()]


def _read_wnids(root):
    wnids = sorted({line.strip() for line in _read_lines(root / "wnids.txt")})
    if len(wnids) != NUM_CLASSES:
        raise ValueError(
            f"{root / 'wnids.txt'} lists {len(wnids)} distinct wnids; "
            f"Tiny-ImageNet-200 has {NUM_CLASSES}."
        )
    return wnids


def _read_words(root):
    """`{wnid: words}` of words.txt (lines "wnid<TAB>words")."""
    words = {}
    for line in _read_lines(root / "words.txt"):
        wnid, _, text = line.partition("\t")
        words[wnid.strip()] = text.strip()
    return words


def _train_files(root, wnids):
    """(path, wnid) of every train/<wnid>/images/*.JPEG, in a fixed order."""
    for wnid in wnids:
        folder = root / "train" / wnid / "images"
        if not folder.is_dir():
            raise FileNotFoundError(
                f"{folder} is missing: every wnid of wnids.txt has a training "
                "folder in the official layout."
            )
        for path in sorted(folder.iterdir(), key=lambda p: p.name):
            if path.suffix.lower() in (".jpeg", ".jpg"):
                yield path, wnid


def _val_files(root, label_of):
    """(path, wnid) of val/images/*.JPEG as val/val_annotations.txt labels
    them (lines "file<TAB>wnid<TAB>x0<TAB>y0<TAB>x1<TAB>y1")."""
    annotations = root / "val" / "val_annotations.txt"
    for line in sorted(_read_lines(annotations)):
        file_name, wnid = line.split("\t")[:2]
        if wnid not in label_of:
            raise ValueError(
                f"{annotations} labels {file_name} with {wnid!r}, which "
                "wnids.txt does not list."
            )
        yield root / "val" / "images" / file_name, wnid


def prepare(data_dir=None):
    """Prepares `tiny_imagenet` in `data_dir` from its manual folder.

    Writes TFRecord files (for `tfds.load`) and their ArrayRecord copy with
    label indices (for random access, see `random_access`). Idempotent: a
    prepared dataset is left as is. Nothing is downloaded.

    Args:
        data_dir: The TFDS data folder (its `downloads/manual/` holds the
            files); None for TFDS's default ($TFDS_DATA_DIR, else
            ~/tensorflow_datasets).

    Returns:
        The `tfds.core.DatasetBuilder`, prepared.
    """
    builder = tfds.builder("tiny_imagenet", data_dir=data_dir)
    builder.download_and_prepare(
        download_config=tfds.download.DownloadConfig(try_download_gcs=False)
    )
    # For tasks that read only their examples (random_access.py).
    random_access.add_array_record(builder)
    return builder
