"""The DARTS search space (Liu et al., 2019), which BASE searches, as data.

A network is a stack of cells of two types, "normal" and "reduce"
(reduction cells halve the resolution and double the channels; they sit at
1/3 and 2/3 of the depth, see `reduction_cells`). Every cell has the same
DAG of 6 nodes:

* nodes 0 and 1: the cell's inputs, the outputs of the two previous cells
  (c_{k-2} and c_{k-1});
* nodes 2..5: intermediate nodes; node k is the sum of ops applied to
  earlier nodes i < k;
* the cell's output: the concatenation of the intermediate nodes (all four
  in this space).

In the supernet, node k receives one mixed edge from every earlier node,
14 edges in all; `EDGES` lists them as (from, to) pairs in DARTS's order
(by target node, then by source node), which is also the row order of the
architecture parameters: edge e = `EDGES[e]`.

A discrete architecture, `DartsGenotype`, keeps two (op, input) pairs a
node, as DARTS's `Genotype` namedtuple does.
"""

import dataclasses
import json

from base_tf.search_space import cell_graph

# The searched ops, in DARTS's order (the columns of the architecture
# parameters).
PRIMITIVES = (
    "none",
    "max_pool_3x3",
    "avg_pool_3x3",
    "skip_connect",
    "sep_conv_3x3",
    "sep_conv_5x5",
    "dil_conv_3x3",
    "dil_conv_5x5",
)

# Every op of DARTS's op table, which a genotype may use: the searched ones
# and the two that searches leave out.
GENOTYPE_OPS = PRIMITIVES + ("sep_conv_7x7", "conv_7x1_1x7")

CELL_TYPES = ("normal", "reduce")
NUM_INPUT_NODES = 2
NUM_INTERMEDIATE_NODES = 4
NUM_NODES = NUM_INPUT_NODES + NUM_INTERMEDIATE_NODES
INTERMEDIATE_NODES = tuple(range(NUM_INPUT_NODES, NUM_NODES))
INPUTS_PER_NODE = 2

# The supernet's edges of a cell, (from, to), by target then source node:
# (0, 2), (1, 2), (0, 3), (1, 3), (2, 3), (0, 4), ..., (4, 5).
EDGES = tuple((i, k) for k in INTERMEDIATE_NODES for i in range(k))

# The cell output of this space: all intermediate nodes.
DEFAULT_CONCAT = INTERMEDIATE_NODES

SPACE_NAME = "darts"


def reduction_cells(num_cells):
    """The indices of the reduction cells in a stack of `num_cells` cells.

    DARTS's rule: cell i reduces when `i in [n // 3, 2 * n // 3]`, i.e. at
    1/3 and 2/3 of the depth (cells 6 and 13 of 20, 2 and 5 of 8).

    Args:
        num_cells: the number of cells, a positive integer.

    Returns:
        The sorted tuple of the distinct reduction cell indices: two of
        them, or one when `num_cells` is 1 (both positions are cell 0).

    Raises:
        ValueError: `num_cells` is not a positive integer.
    """
    if (
        isinstance(num_cells, bool)
        or not isinstance(num_cells, int)
        or num_cells < 1
    ):
        raise ValueError(
            f"num_cells must be a positive integer; got {num_cells!r}."
        )
    return tuple(sorted({num_cells // 3, 2 * num_cells // 3}))


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def _is_sequence(value):
    return isinstance(value, (list, tuple))


def _check_pairs(pairs, cell):
    """Validates one cell's (op, input) pairs; returns them as tuples."""
    where = f"DartsGenotype.{cell}"
    expected = INPUTS_PER_NODE * NUM_INTERMEDIATE_NODES
    if not _is_sequence(pairs):
        raise ValueError(
            f"{where} must be a list of {expected} (op, input) pairs; got "
            f"{type(pairs).__name__} {pairs!r}."
        )
    if len(pairs) != expected:
        raise ValueError(
            f"{where} has {len(pairs)} (op, input) pairs; expected "
            f"{expected}: {INPUTS_PER_NODE} for each of the "
            f"{NUM_INTERMEDIATE_NODES} intermediate nodes "
            f"{INTERMEDIATE_NODES[0]}..{INTERMEDIATE_NODES[-1]}."
        )
    checked = []
    for position, pair in enumerate(pairs):
        node = NUM_INPUT_NODES + position // INPUTS_PER_NODE
        slot = f"{where}, node {node} (pair {position})"
        if not _is_sequence(pair) or len(pair) != 2:
            raise ValueError(
                f"{slot}: expected an (op, input) pair; got {pair!r}."
            )
        op, source = pair
        if op not in GENOTYPE_OPS:
            raise ValueError(
                f"{slot}: unknown op {op!r}; allowed ops: "
                f"{', '.join(GENOTYPE_OPS)}."
            )
        if not _is_int(source):
            raise ValueError(
                f"{slot}: input must be an integer node index; got {source!r}."
            )
        if not 0 <= source < node:
            raise ValueError(
                f"{slot}: input {source} is out of range; node {node} may "
                f"take inputs 0..{node - 1} (0 and 1 are the two previous "
                "cells, 2.. the earlier intermediate nodes)."
            )
        checked.append((op, source))
    return tuple(checked)


def _check_concat(concat, cell):
    """Validates one cell's output nodes; returns them as a tuple."""
    where = f"DartsGenotype.{cell}_concat"
    first, last = INTERMEDIATE_NODES[0], INTERMEDIATE_NODES[-1]
    if not isinstance(concat, (list, tuple, range)):
        raise ValueError(
            f"{where} must be a list of intermediate nodes ({first}.."
            f"{last}); got {type(concat).__name__} {concat!r}."
        )
    concat = tuple(concat)
    if not concat:
        raise ValueError(
            f"{where} is empty; it needs at least one intermediate node "
            f"({first}..{last})."
        )
    for node in concat:
        if not _is_int(node) or node not in INTERMEDIATE_NODES:
            raise ValueError(
                f"{where}: {node!r} is not an intermediate node; allowed: "
                f"{first}..{last}."
            )
    if any(a >= b for a, b in zip(concat, concat[1:], strict=False)):
        raise ValueError(
            f"{where} must list distinct nodes in increasing order; got "
            f"{concat}."
        )
    return concat


@dataclasses.dataclass(frozen=True)
class DartsGenotype:
    """A discrete architecture of the DARTS space: a normal and a reduce cell.

    The fields are those of DARTS's `Genotype` namedtuple, validated and
    stored as tuples (so a genotype is hashable and compares by value).
    `normal` and `reduce` each hold 8 (op, input) pairs, two per
    intermediate node in node order: pairs 2j and 2j + 1 feed node j + 2,
    and their input indices lie in 0..j + 1 (0 and 1 are the two previous
    cells, 2.. the earlier intermediate nodes). A node may take both inputs
    from the same node. `str()` prints one line per cell type.

    Args:
        normal: the normal cell's 8 (op, input) pairs; an op is one of
            `GENOTYPE_OPS`.
        normal_concat: the intermediate nodes concatenated as the normal
            cell's output, increasing (`range(2, 6)` in this space).
        reduce: the reduction cell's 8 (op, input) pairs.
        reduce_concat: the reduction cell's output nodes.

    Raises:
        ValueError: a field is malformed; the message names the cell, the
            node, the offending value and what is allowed.
    """

    normal: tuple
    normal_concat: tuple
    reduce: tuple
    reduce_concat: tuple

    def __post_init__(self):
        for cell in CELL_TYPES:
            pairs = _check_pairs(getattr(self, cell), cell)
            concat = _check_concat(getattr(self, f"{cell}_concat"), cell)
            object.__setattr__(self, cell, pairs)
            object.__setattr__(self, f"{cell}_concat", concat)

    def _check_cell_type(self, cell_type):
        if cell_type not in CELL_TYPES:
            raise ValueError(
                f"Unknown DARTS cell type {cell_type!r}; the cell types are "
                f"{', '.join(CELL_TYPES)}."
            )

    def nodes(self, cell_type):
        """The (op, input) pairs of `cell_type`, grouped by node.

        Args:
            cell_type: "normal" or "reduce".

        Returns:
            A tuple of 4 tuples (nodes 2..5) of 2 (op, input) pairs each.
        """
        self._check_cell_type(cell_type)
        pairs = getattr(self, cell_type)
        return tuple(
            pairs[i : i + INPUTS_PER_NODE]
            for i in range(0, len(pairs), INPUTS_PER_NODE)
        )

    def cell_nodes(self, cell_type):
        """`nodes(cell_type)`, under the name every space's genotype has."""
        return self.nodes(cell_type)

    @classmethod
    def from_cell_nodes(cls, cells):
        """The genotype of `cells`, every cell's output all its nodes.

        The inverse of `cell_nodes`, for genotypes of this space's default
        concat (`DEFAULT_CONCAT`).

        Args:
            cells: a dict from each cell type ("normal", "reduce") to its
                nodes' (op, input) pairs, nodes 2..5 in order, two pairs
                each.

        Returns:
            A `DartsGenotype`.

        Raises:
            ValueError: a cell is malformed.
        """
        fields = {}
        for cell in CELL_TYPES:
            fields[cell] = [pair for pairs in cells[cell] for pair in pairs]
            fields[f"{cell}_concat"] = DEFAULT_CONCAT
        return cls(**fields)

    def concat(self, cell_type):
        """The output nodes of `cell_type` ("normal" or "reduce")."""
        self._check_cell_type(cell_type)
        return getattr(self, f"{cell_type}_concat")

    def cell_graph(self, cell_type):
        """The cell `cell_type` as a graph to draw (see `cell_graph`).

        The nodes: the two input cells "c_{k-2}" and "c_{k-1}"
        (`PREVIOUS_CELL`), the intermediate nodes "0".."3" (nodes 2..5) and
        the output "c_{k}" (`CONCAT`). The edges: every (op, input) pair as
        the genotype holds it, node by node, then an edge without an op
        from each output node (`concat`) to "c_{k}".

        Args:
            cell_type: "normal" or "reduce".

        Returns:
            A `cell_graph.CellGraph`.
        """
        names = {0: "c_{k-2}", 1: "c_{k-1}"}
        nodes = [(names[i], cell_graph.PREVIOUS_CELL) for i in (0, 1)]
        edges = []
        for node, pairs in zip(
            INTERMEDIATE_NODES, self.nodes(cell_type), strict=True
        ):
            names[node] = str(node - NUM_INPUT_NODES)
            nodes.append((names[node], cell_graph.NODE))
            edges += [(names[source], names[node], op) for op, source in pairs]
        output = "c_{k}"
        nodes.append((output, cell_graph.CONCAT))
        edges += [
            (names[node], output, None) for node in self.concat(cell_type)
        ]
        return cell_graph.CellGraph(nodes, edges)

    def __str__(self):
        lines = []
        for cell in CELL_TYPES:
            nodes = " | ".join(
                f"node{node}: "
                + ", ".join(f"{op}<-{source}" for op, source in pairs)
                for node, pairs in zip(
                    INTERMEDIATE_NODES, self.nodes(cell), strict=True
                )
            )
            concat = ",".join(str(n) for n in self.concat(cell))
            lines.append(f"{cell}: {nodes} | concat: {concat}")
        return "\n".join(lines)

    def to_dict(self):
        """A JSON-ready dict, with `"space": "darts"`."""
        out = {"space": SPACE_NAME}
        for cell in CELL_TYPES:
            out[cell] = [list(pair) for pair in getattr(self, cell)]
            out[f"{cell}_concat"] = list(getattr(self, f"{cell}_concat"))
        return out

    @classmethod
    def from_dict(cls, data):
        """The inverse of `to_dict`.

        Args:
            data: a dict with "space": "darts" and the four fields.

        Returns:
            A `DartsGenotype`.

        Raises:
            ValueError: a key is missing or unknown, the space is not
                "darts", or a field is malformed.
        """
        if not isinstance(data, dict):
            raise ValueError(
                "A DARTS genotype must be a JSON object; got "
                f"{type(data).__name__}."
            )
        space = data.get("space")
        if space != SPACE_NAME:
            raise ValueError(
                f"Not a DARTS genotype: its 'space' is {space!r}; expected "
                f"{SPACE_NAME!r}."
            )
        fields = [f.name for f in dataclasses.fields(cls)]
        missing = [name for name in fields if name not in data]
        if missing:
            raise ValueError(
                f"DARTS genotype lacks {', '.join(missing)}; it needs "
                f"space, {', '.join(fields)}."
            )
        unknown = sorted(set(data) - set(fields) - {"space"})
        if unknown:
            raise ValueError(
                f"DARTS genotype has unknown keys {', '.join(unknown)}; "
                f"allowed: space, {', '.join(fields)}."
            )
        return cls(**{name: data[name] for name in fields})

    def to_json(self, indent=None):
        """This genotype as JSON text; `from_json` reads it back exactly.

        Args:
            indent: passed to `json.dumps` (None: one line).
        """
        return json.dumps(self.to_dict(), indent=indent)

    @classmethod
    def from_json(cls, text):
        """Reads a genotype written by `to_json`.

        Args:
            text: JSON text.

        Returns:
            A `DartsGenotype`.

        Raises:
            ValueError: the text is not valid JSON or not a valid DARTS
                genotype.
        """
        try:
            data = json.loads(text)
        except (TypeError, json.JSONDecodeError) as error:
            raise ValueError(
                f"DARTS genotype: not valid JSON ({error})."
            ) from error
        return cls.from_dict(data)
