"""Published architectures, as named genotypes, and reading genotypes.

* `CIFAR_TUNED`, `IMAGENET_TUNED`: BASE's cells after adapting the
  meta-trained network to CIFAR-10 and to ImageNet (Shaw et al., 2019,
  from the authors' evaluation code). A node may take both of its inputs
  from the same node.
* `DARTS_V2`: the second-order DARTS cell (Liu et al., 2019).
"""

import json
import os

from base_tf.search_space import space as space_lib
from base_tf.search_space.darts import DEFAULT_CONCAT, DartsGenotype
from base_tf.search_space.nas_bench_201 import NasBench201Genotype

CIFAR_TUNED = DartsGenotype(
    normal=[
        ("skip_connect", 0),
        ("dil_conv_3x3", 1),
        ("max_pool_3x3", 0),
        ("dil_conv_5x5", 0),
        ("max_pool_3x3", 0),
        ("sep_conv_5x5", 0),
        ("max_pool_3x3", 1),
        ("dil_conv_5x5", 1),
    ],
    normal_concat=DEFAULT_CONCAT,
    reduce=[
        ("sep_conv_3x3", 0),
        ("sep_conv_5x5", 0),
        ("max_pool_3x3", 0),
        ("sep_conv_3x3", 0),
        ("skip_connect", 0),
        ("avg_pool_3x3", 3),
        ("max_pool_3x3", 1),
        ("skip_connect", 2),
    ],
    reduce_concat=DEFAULT_CONCAT,
)

IMAGENET_TUNED = DartsGenotype(
    normal=[
        ("skip_connect", 0),
        ("max_pool_3x3", 1),
        ("avg_pool_3x3", 0),
        ("sep_conv_5x5", 1),
        ("sep_conv_5x5", 0),
        ("dil_conv_5x5", 3),
        ("sep_conv_5x5", 0),
        ("sep_conv_5x5", 2),
    ],
    normal_concat=DEFAULT_CONCAT,
    reduce=[
        ("max_pool_3x3", 0),
        ("sep_conv_5x5", 0),
        ("max_pool_3x3", 0),
        ("avg_pool_3x3", 0),
        ("sep_conv_5x5", 2),
        ("dil_conv_5x5", 2),
        ("avg_pool_3x3", 0),
        ("sep_conv_5x5", 3),
    ],
    reduce_concat=DEFAULT_CONCAT,
)

DARTS_V2 = DartsGenotype(
    normal=[
        ("sep_conv_3x3", 0),
        ("sep_conv_3x3", 1),
        ("sep_conv_3x3", 0),
        ("sep_conv_3x3", 1),
        ("sep_conv_3x3", 1),
        ("skip_connect", 0),
        ("skip_connect", 0),
        ("dil_conv_3x3", 2),
    ],
    normal_concat=DEFAULT_CONCAT,
    reduce=[
        ("max_pool_3x3", 0),
        ("max_pool_3x3", 1),
        ("skip_connect", 2),
        ("max_pool_3x3", 1),
        ("max_pool_3x3", 0),
        ("skip_connect", 2),
        ("skip_connect", 2),
        ("max_pool_3x3", 1),
    ],
    reduce_concat=DEFAULT_CONCAT,
)

PUBLISHED = {
    "CIFAR_TUNED": CIFAR_TUNED,
    "IMAGENET_TUNED": IMAGENET_TUNED,
    "DARTS_V2": DARTS_V2,
}


def get(name):
    """The published genotype `name` (case-insensitive), e.g. "cifar_tuned".

    Args:
        name: a key of `PUBLISHED`.

    Returns:
        A genotype.

    Raises:
        ValueError: `name` is not a published genotype.
    """
    if isinstance(name, str) and name.upper() in PUBLISHED:
        return PUBLISHED[name.upper()]
    raise ValueError(
        f"Unknown published genotype {name!r}; known: {', '.join(PUBLISHED)}."
    )


def genotype_from_json(text):
    """Reads a genotype of any registered space from its `to_json()` text.

    The JSON object's "space" field names the space, whose genotype type
    then reads the rest.

    Args:
        text: JSON text, e.g. `DartsGenotype.to_json()`'s.

    Returns:
        A genotype of the space named in the text.

    Raises:
        ValueError: the text is not valid JSON, has no "space", names an
            unknown space, or is not a valid genotype of that space.
    """
    try:
        data = json.loads(text)
    except (TypeError, json.JSONDecodeError) as error:
        raise ValueError(f"Genotype: not valid JSON ({error}).") from error
    known = ", ".join(space_lib.SPACES)
    if not isinstance(data, dict) or "space" not in data:
        raise ValueError(
            "Genotype JSON must be an object with a 'space' field naming "
            f"its search space ({known}); got {text!r}."
        )
    if data["space"] not in space_lib.SPACES:
        raise ValueError(
            f"Genotype JSON names an unknown space {data['space']!r}; known "
            f"spaces: {known}."
        )
    return space_lib.get_space(data["space"]).genotype_type.from_dict(data)


def resolve(spec):
    """The genotype `spec` names.

    Args:
        spec: a genotype; a published name (`PUBLISHED`:
            CIFAR_TUNED, IMAGENET_TUNED, DARTS_V2; any case); a path to a
            JSON file written by a genotype's `to_json` (e.g. an adaptation
            run's genotype.json); or a NAS-Bench-201 architecture string
            (`|op~0|+|op~0|op~1|+...`).

    Returns:
        A `DartsGenotype` or `NasBench201Genotype`.

    Raises:
        ValueError: nothing of the above, or a malformed genotype; the
            message says which.
    """
    if isinstance(spec, (DartsGenotype, NasBench201Genotype)):
        return spec
    if not isinstance(spec, (str, os.PathLike)) or not os.fspath(spec):
        raise ValueError(
            "A genotype is a published name, a JSON file or a NAS-Bench-201 "
            f"string; got {spec!r}."
        )
    spec = os.fspath(spec)
    if os.path.isfile(spec):
        with open(spec) as f:
            text = f.read()
        try:
            return genotype_from_json(text)
        except ValueError as error:
            raise ValueError(f"{spec}: not a valid genotype: {error}") from None
    if spec.startswith("|"):
        return NasBench201Genotype.from_string(spec)
    if spec.upper() in PUBLISHED:
        return get(spec)
    hint = ""
    if spec.endswith(".json") or os.sep in spec:
        hint = f" No file {spec} exists."
    raise ValueError(
        f"Unknown genotype {spec!r}.{hint} Give a published name "
        f"({', '.join(PUBLISHED)}), a genotype JSON file or a "
        "NAS-Bench-201 architecture string."
    )
