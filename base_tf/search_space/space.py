"""`SearchSpace`: what a supernet needs to know about a cell search space.

A search space is data: its candidate ops (names in
`operations.OPS`), its cell types, and the edges of a cell's DAG. A
supernet builds one mixed op for each (cell type, edge) out of `ops`, and
reads a genotype of `genotype_type` off per-edge op probabilities.
`inputs_per_node` says what a genotype keeps of the cell's edges, and every
`genotype_type` reads and writes its cells as the same data, the (op,
input) pairs of each computed node (`cell_nodes`, `from_cell_nodes`), so
code over genotypes need not know which space it is in. What else differs
between spaces is data here too, so that callers need not ask which space
they are in: the derivation rules a space allows (`derivation_rules`,
`sampling_rules`), the published notation its genotypes print in
(`notation`), and the network a genotype of it is trained as
(`network_size`, `auxiliary_head`). A genotype also says how its cells are
drawn (`cell_graph`).

The order of `edges` and `ops` is the layout of the architecture
parameters: row e is edge `edges[e]`, column o is op `ops[o]`. Both orders
are fixed (each space's module documents its own) and must not change, or
saved architecture parameters would be misread.
"""

import dataclasses

from base_tf.search_space import darts, nas_bench_201, operations


@dataclasses.dataclass(frozen=True)
class SearchSpace:
    """A cell search space, as data.

    Args:
        name: the space's registry name, e.g. "darts".
        ops: the candidate ops of every edge, names in `operations.OPS`,
            in the architecture parameters' column order.
        cell_types: the searched cell types, e.g. ("normal", "reduce").
        edges: a cell's edges as (from, to) node pairs, in the
            architecture parameters' row order: sorted by target node,
            then source node. Every cell type has the same edges.
        num_input_nodes: how many nodes (0..num_input_nodes - 1) are the
            cell's inputs; every other node receives at least one edge.
        genotype_type: the class of this space's discrete architectures,
            with `cell_nodes(cell_type)` (each computed node's (op, input)
            pairs, in node order) and its inverse, the class method
            `from_cell_nodes({cell_type: nodes})`.
        inputs_per_node: how many (op, input) pairs a genotype keeps for
            each computed node, from any earlier nodes and never with op
            "none" (DARTS: 2); None when a genotype keeps every edge, one op
            each, "none" included (NAS-Bench-201).
        pool_batch_norm: whether the supernet follows each pool by a batch
            norm. DARTS's search network does (its MixedOp adds one to every
            pool); NAS-Bench-201's search cell uses the benchmark's ops as
            they are, and its pools have none. Without it a pool reading a
            node whose sampled ops are all `none` (an all-zero map) would be
            normalised over zero variance, and its gradient scaled by
            1 / sqrt(epsilon) (benchmarks/edge_gradients.py).
        derivation_rules: the rules of `base_tf.derivation` that read a
            genotype of this space off q(z|D), by name, the default first
            (DARTS: "slots", "darts"; NAS-Bench-201: "argmax").
        sampling_rules: those of `derivation_rules` with a sampling model,
            which can propose genotypes (`derivation.sample`).
        notation: the name of the published notation that `str()` of a
            genotype writes, which programs print on a line of its own
            (NAS-Bench-201: its architecture string); None when there is
            none (DARTS: `str()` is this project's own).
        network_size: `(channels, num_cells)` of the network a genotype of
            this space is trained as when the caller gives neither
            (`evaluation.build_network`): DARTS (40, 20), BASE's CIFAR-10
            network; NAS-Bench-201 (16, 5), 5 cells a stage, as the
            benchmark's networks. None: no default.
        auxiliary_head: whether that network can have DARTS's auxiliary
            head (DARTS's only).

    Raises:
        ValueError: a field is malformed; the message says which and why.
    """

    name: str
    ops: tuple
    cell_types: tuple
    edges: tuple
    num_input_nodes: int
    genotype_type: type
    inputs_per_node: int | None = None
    pool_batch_norm: bool = True
    derivation_rules: tuple = ()
    sampling_rules: tuple = ()
    notation: str | None = None
    network_size: tuple | None = None
    auxiliary_head: bool = False

    def __post_init__(self):
        where = f"SearchSpace {self.name!r}"
        ops = tuple(self.ops)
        unknown = [op for op in ops if op not in operations.OPS]
        if not ops or unknown:
            raise ValueError(
                f"{where}: ops must be names from operations.OPS; unknown: "
                f"{unknown or 'no ops given'}; known: "
                f"{', '.join(operations.OPS)}."
            )
        if len(set(ops)) != len(ops):
            raise ValueError(f"{where}: ops has duplicates: {ops}.")
        cell_types = tuple(self.cell_types)
        if not cell_types or len(set(cell_types)) != len(cell_types):
            raise ValueError(
                f"{where}: cell_types must be distinct and non-empty; got "
                f"{cell_types}."
            )
        edges = tuple(tuple(edge) for edge in self.edges)
        for edge in edges:
            if len(edge) != 2 or not 0 <= edge[0] < edge[1]:
                raise ValueError(
                    f"{where}: edge {edge} must be (from, to) with "
                    "0 <= from < to."
                )
            if edge[1] < self.num_input_nodes:
                raise ValueError(
                    f"{where}: edge {edge} goes into input node {edge[1]}."
                )
        if list(edges) != sorted(set(edges), key=lambda e: (e[1], e[0])):
            raise ValueError(
                f"{where}: edges must be distinct and sorted by target, "
                f"then source node; got {edges}."
            )
        targets = {to for _, to in edges}
        if not edges or targets != set(
            range(self.num_input_nodes, max(targets) + 1)
        ):
            raise ValueError(
                f"{where}: every node after the {self.num_input_nodes} "
                f"input nodes needs an incoming edge; got {edges}."
            )
        if self.inputs_per_node is not None and (
            isinstance(self.inputs_per_node, bool)
            or not isinstance(self.inputs_per_node, int)
            or self.inputs_per_node < 1
        ):
            raise ValueError(
                f"{where}: inputs_per_node must be a positive integer or "
                f"None; got {self.inputs_per_node!r}."
            )
        rules = tuple(self.derivation_rules)
        sampling_rules = tuple(self.sampling_rules)
        names = all(isinstance(rule, str) for rule in rules)
        if not names or len(set(rules)) != len(rules):
            raise ValueError(
                f"{where}: derivation_rules must be distinct rule names; got "
                f"{rules}."
            )
        if not set(sampling_rules) <= set(rules):
            raise ValueError(
                f"{where}: sampling_rules {sampling_rules} must be some of "
                f"derivation_rules {rules}."
            )
        network_size = self.network_size
        if network_size is not None:
            network_size = tuple(network_size)
            if len(network_size) != 2 or not all(
                isinstance(n, int) and not isinstance(n, bool) and n >= 1
                for n in network_size
            ):
                raise ValueError(
                    f"{where}: network_size must be (channels, num_cells), "
                    f"two positive integers, or None; got "
                    f"{self.network_size!r}."
                )
        object.__setattr__(self, "ops", ops)
        object.__setattr__(self, "cell_types", cell_types)
        object.__setattr__(self, "edges", edges)
        object.__setattr__(self, "derivation_rules", rules)
        object.__setattr__(self, "sampling_rules", sampling_rules)
        object.__setattr__(self, "network_size", network_size)

    @property
    def num_ops(self):
        """The number of candidate ops of an edge."""
        return len(self.ops)

    @property
    def num_edges(self):
        """The number of edges of a cell."""
        return len(self.edges)

    @property
    def num_nodes(self):
        """The number of nodes of a cell, input nodes included."""
        return self.edges[-1][1] + 1

    @property
    def computed_nodes(self):
        """The nodes that sum their incoming edges, in order."""
        return tuple(range(self.num_input_nodes, self.num_nodes))

    def edges_into(self, node):
        """The indices into `edges` of the edges that end at `node`.

        Args:
            node: a computed node (see `computed_nodes`).

        Returns:
            A tuple of edge indices, by source node.

        Raises:
            ValueError: `node` is not a computed node.
        """
        if node not in self.computed_nodes:
            raise ValueError(
                f"SearchSpace {self.name!r}: node {node!r} is not a computed "
                f"node; they are {self.computed_nodes}."
            )
        return tuple(e for e, (_, to) in enumerate(self.edges) if to == node)


DARTS = SearchSpace(
    name=darts.SPACE_NAME,
    ops=darts.PRIMITIVES,
    cell_types=darts.CELL_TYPES,
    edges=darts.EDGES,
    num_input_nodes=darts.NUM_INPUT_NODES,
    genotype_type=darts.DartsGenotype,
    inputs_per_node=darts.INPUTS_PER_NODE,
    derivation_rules=("slots", "darts"),
    sampling_rules=("slots",),
    network_size=(40, 20),
    auxiliary_head=True,
)

NAS_BENCH_201 = SearchSpace(
    name=nas_bench_201.SPACE_NAME,
    ops=nas_bench_201.PRIMITIVES,
    cell_types=nas_bench_201.CELL_TYPES,
    edges=nas_bench_201.EDGES,
    num_input_nodes=nas_bench_201.NUM_INPUT_NODES,
    genotype_type=nas_bench_201.NasBench201Genotype,
    inputs_per_node=None,
    pool_batch_norm=False,
    derivation_rules=("argmax",),
    sampling_rules=("argmax",),
    notation="NAS-Bench-201 architecture string",
    network_size=(16, 5),
)

SPACES = {space.name: space for space in (DARTS, NAS_BENCH_201)}


def get_space(name):
    """The registered search space `name`.

    Args:
        name: "darts" or "nas_bench_201".

    Returns:
        A `SearchSpace`.

    Raises:
        ValueError: `name` is not a registered space.
    """
    try:
        return SPACES[name]
    except (KeyError, TypeError):
        raise ValueError(
            f"Unknown search space {name!r}; known spaces: {', '.join(SPACES)}."
        ) from None


def space_of(genotype):
    """The registered search space of `genotype`.

    Args:
        genotype: a genotype of a registered space.

    Returns:
        The `SearchSpace` whose `genotype_type` `genotype` is.

    Raises:
        ValueError: `genotype` is not a genotype of a registered space.
    """
    for space in SPACES.values():
        if isinstance(genotype, space.genotype_type):
            return space
    raise ValueError(
        f"A {type(genotype).__name__} is not a genotype of a known search "
        f"space; the genotypes are "
        f"{', '.join(s.genotype_type.__name__ for s in SPACES.values())}."
    )
