"""Cell search spaces as data: candidate ops, spaces, genotypes.

* `operations`: every candidate op as a Keras layer; `OPS[name](channels,
  stride, affine)` builds one. `base_op.Op` is their base class, which
  checks and configures their arguments; `building_blocks` holds the
  convolutions and BN they (and the evaluation networks) are made of.
* `darts`, `nas_bench_201`: the two spaces and their genotype types.
* `space`: `SearchSpace`, the view a supernet iterates over (`space.edges`,
  `space.ops`), and the registry `get_space(name)`, `space_of(genotype)`.
* `cell_graph`: `CellGraph`, a genotype's cell as the graph a picture of
  it shows (`genotype.cell_graph(cell_type)`).
* `genotypes`: published architectures, `genotype_from_json` and
  `resolve_genotype` (a name, a JSON file or a NAS-Bench-201 string).
"""

from base_tf.search_space.cell_graph import CellGraph
from base_tf.search_space.darts import DartsGenotype, reduction_cells
from base_tf.search_space.genotypes import (
    CIFAR_TUNED,
    DARTS_V2,
    IMAGENET_TUNED,
    PUBLISHED,
    genotype_from_json,
)
from base_tf.search_space.genotypes import get as get_genotype
from base_tf.search_space.genotypes import resolve as resolve_genotype
from base_tf.search_space.nas_bench_201 import NasBench201Genotype
from base_tf.search_space.operations import (
    OPS,
    Conv1x7Conv7x1,
    DilConv,
    FactorizedReduce,
    Identity,
    Pooling,
    ReLUConvBN,
    SepConv,
    Zero,
    make_op,
)
from base_tf.search_space.space import (
    SPACES,
    SearchSpace,
    get_space,
    space_of,
)

__all__ = [
    "CIFAR_TUNED",
    "CellGraph",
    "DARTS_V2",
    "IMAGENET_TUNED",
    "OPS",
    "PUBLISHED",
    "SPACES",
    "Conv1x7Conv7x1",
    "DartsGenotype",
    "DilConv",
    "FactorizedReduce",
    "Identity",
    "NasBench201Genotype",
    "Pooling",
    "ReLUConvBN",
    "SearchSpace",
    "SepConv",
    "Zero",
    "genotype_from_json",
    "get_genotype",
    "get_space",
    "make_op",
    "reduction_cells",
    "resolve_genotype",
    "space_of",
]
