"""The NAS-Bench-201 search space (Dong and Yang, 2020) as data.

One cell type, repeated in a fixed macro skeleton (reductions there are
fixed residual blocks, not searched cells). The cell is a DAG of 4 nodes:
node 0 is the cell's input, node i (1..3) is the sum of one op on every
earlier node j < i, and node 3 is the cell's output. That is 6 edges, and a
cell is fully described by the op on each edge: 5^6 = 15625 cells.

`EDGES` lists the edges as (from, to) pairs by target node, then source
node, NAS-Bench-201's own order: (0, 1), (0, 2), (1, 2), (0, 3), (1, 3),
(2, 3). It is also the row order of the architecture parameters.

`NasBench201Genotype` is a cell, with NAS-Bench-201's canonical string
`|op~0|+|op~0|op~1|+|op~0|op~1|op~2|` (node 1, node 2, node 3).
"""

import dataclasses
import json
import re

from base_tf.search_space import cell_graph

# The ops, in NAS-Bench-201's order (the columns of the architecture
# parameters).
PRIMITIVES = (
    "none",
    "skip_connect",
    "nor_conv_1x1",
    "nor_conv_3x3",
    "avg_pool_3x3",
)

CELL_TYPES = ("cell",)
NUM_INPUT_NODES = 1
NUM_NODES = 4
COMPUTED_NODES = tuple(range(NUM_INPUT_NODES, NUM_NODES))

# The edges of the cell, (from, to), by target then source node.
EDGES = tuple((j, i) for i in COMPUTED_NODES for j in range(i))

SPACE_NAME = "nas_bench_201"

_INPUT_INDEX = re.compile(r"[0-9]+")


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def _is_sequence(value):
    return isinstance(value, (list, tuple))


def _check_node(pairs, node):
    """Validates node `node`'s (op, input) pairs; returns them by input."""
    where = f"NasBench201Genotype node {node}"
    if not _is_sequence(pairs):
        raise ValueError(
            f"{where} must be a list of (op, input) pairs, one for each of "
            f"inputs 0..{node - 1}; got {pairs!r}."
        )
    by_input = {}
    for pair in pairs:
        if not _is_sequence(pair) or len(pair) != 2:
            raise ValueError(
                f"{where}: expected an (op, input) pair; got {pair!r}."
            )
        op, source = pair
        if op not in PRIMITIVES:
            raise ValueError(
                f"{where}: unknown op {op!r}; allowed ops: "
                f"{', '.join(PRIMITIVES)}."
            )
        if not _is_int(source):
            raise ValueError(
                f"{where}: input must be an integer node index; got {source!r}."
            )
        if not 0 <= source < node:
            raise ValueError(
                f"{where}: input {source} is out of range; node {node} "
                f"takes inputs 0..{node - 1}."
            )
        if source in by_input:
            raise ValueError(
                f"{where} takes input {source} twice; it takes each of "
                f"inputs 0..{node - 1} exactly once."
            )
        by_input[source] = op
    missing = [j for j in range(node) if j not in by_input]
    if missing:
        raise ValueError(
            f"{where} has no edge from node(s) "
            f"{', '.join(map(str, missing))}; it takes each of inputs "
            f"0..{node - 1} exactly once (use 'none' for a missing edge)."
        )
    return tuple((by_input[j], j) for j in range(node))


@dataclasses.dataclass(frozen=True)
class NasBench201Genotype:
    """A cell of the NAS-Bench-201 space.

    `nodes[i - 1]` holds node i's (op, input) pairs, one for each input
    0..i-1. They are stored sorted by input, so `str()` is always the
    canonical NAS-Bench-201 string and two genotypes of the same cell
    compare equal.

    Args:
        nodes: for nodes 1, 2, 3, a list of (op, input) pairs with the
            inputs 0..i-1 each exactly once; an op is one of `PRIMITIVES`.

    Raises:
        ValueError: `nodes` is malformed; the message names the node, the
            offending value and what is allowed.
    """

    nodes: tuple

    def __post_init__(self):
        nodes = self.nodes
        count = len(COMPUTED_NODES)
        if not _is_sequence(nodes):
            raise ValueError(
                f"NasBench201Genotype.nodes must be a list of {count} nodes; "
                f"got {type(nodes).__name__} {nodes!r}."
            )
        if len(nodes) != count:
            raise ValueError(
                f"NasBench201Genotype has {len(nodes)} nodes; expected "
                f"{count} (nodes 1..{NUM_NODES - 1}; node 0 is the cell's "
                "input)."
            )
        checked = tuple(
            _check_node(pairs, node)
            for node, pairs in zip(COMPUTED_NODES, nodes, strict=True)
        )
        object.__setattr__(self, "nodes", checked)

    @classmethod
    def from_string(cls, text):
        """Parses NAS-Bench-201's string, e.g. `|nor_conv_3x3~0|+|...|`.

        Args:
            text: nodes 1..3 separated by "+", each `|op~input|...|` with
                one `op~input` for each input 0..i-1.

        Returns:
            A `NasBench201Genotype`.

        Raises:
            ValueError: a syntax error, or a malformed cell; the message
                names the node and the offending text.
        """
        if not isinstance(text, str):
            raise ValueError(
                "A NAS-Bench-201 architecture string must be a str; got "
                f"{type(text).__name__} {text!r}."
            )
        parts = text.strip().split("+")
        count = len(COMPUTED_NODES)
        if len(parts) != count:
            raise ValueError(
                f"NAS-Bench-201 string {text!r} has {len(parts)} nodes; "
                f"expected {count} separated by '+'."
            )
        nodes = []
        for node, part in zip(COMPUTED_NODES, parts, strict=True):
            if len(part) < 2 or part[0] != "|" or part[-1] != "|":
                raise ValueError(
                    f"NAS-Bench-201 string, node {node}: {part!r} must have "
                    "the form '|op~input|...|'."
                )
            pairs = []
            for token in part[1:-1].split("|"):
                op, tilde, source = token.partition("~")
                if not tilde or not _INPUT_INDEX.fullmatch(source):
                    raise ValueError(
                        f"NAS-Bench-201 string, node {node}: {token!r} must "
                        "have the form 'op~input' with input a node index."
                    )
                pairs.append((op, int(source)))
            nodes.append(pairs)
        return cls(nodes)

    def __str__(self):
        return "+".join(
            "|" + "".join(f"{op}~{source}|" for op, source in pairs)
            for pairs in self.nodes
        )

    def __repr__(self):
        return f"{type(self).__name__}.from_string({str(self)!r})"

    def cell_nodes(self, cell_type="cell"):
        """`nodes`, under the name every space's genotype has.

        Args:
            cell_type: "cell", the one cell type of this space.

        Raises:
            ValueError: another cell type.
        """
        if cell_type not in CELL_TYPES:
            raise ValueError(
                f"Unknown NAS-Bench-201 cell type {cell_type!r}; the cell "
                f"type is {CELL_TYPES[0]!r}."
            )
        return self.nodes

    @classmethod
    def from_cell_nodes(cls, cells):
        """The inverse of `cell_nodes`: `cells` maps "cell" to its nodes."""
        return cls(cells[CELL_TYPES[0]])

    def cell_graph(self, cell_type="cell"):
        """The cell as a graph to draw (see `cell_graph`).

        The nodes "0".."3", all of them `NODE`s, as NAS-Bench-201 numbers
        them; the edges that carry an op, node by node, the `none` edges
        (no connection) left out.

        Args:
            cell_type: "cell", the one cell type of this space.

        Returns:
            A `cell_graph.CellGraph`.

        Raises:
            ValueError: another cell type.
        """
        nodes = self.cell_nodes(cell_type)
        return cell_graph.CellGraph(
            nodes=[(str(node), cell_graph.NODE) for node in range(NUM_NODES)],
            edges=[
                (str(source), str(node), op)
                for node, pairs in zip(COMPUTED_NODES, nodes, strict=True)
                for op, source in pairs
                if op != "none"
            ],
        )

    def ops_by_edge(self):
        """The op on each edge, in `EDGES` order."""
        return tuple(self.nodes[i - 1][j][0] for j, i in EDGES)

    @classmethod
    def from_edge_ops(cls, ops):
        """The cell with `ops[e]` on edge `EDGES[e]`.

        Args:
            ops: 6 op names, in `EDGES` order.

        Returns:
            A `NasBench201Genotype`.

        Raises:
            ValueError: not 6 ops, or an unknown op.
        """
        if not _is_sequence(ops) or len(ops) != len(EDGES):
            raise ValueError(
                f"from_edge_ops needs {len(EDGES)} op names, one for each "
                f"edge {EDGES}; got {ops!r}."
            )
        nodes = [[] for _ in COMPUTED_NODES]
        for (j, i), op in zip(EDGES, ops, strict=True):
            nodes[i - 1].append((op, j))
        return cls(nodes)

    def to_dict(self):
        """A JSON-ready dict: `{"space": "nas_bench_201", "arch_str": ...}`."""
        return {"space": SPACE_NAME, "arch_str": str(self)}

    @classmethod
    def from_dict(cls, data):
        """The inverse of `to_dict`.

        Args:
            data: a dict with "space": "nas_bench_201" and "arch_str".

        Returns:
            A `NasBench201Genotype`.

        Raises:
            ValueError: a key is missing or unknown, the space is not
                "nas_bench_201", or the architecture string is malformed.
        """
        if not isinstance(data, dict):
            raise ValueError(
                "A NAS-Bench-201 genotype must be a JSON object; got "
                f"{type(data).__name__}."
            )
        space = data.get("space")
        if space != SPACE_NAME:
            raise ValueError(
                f"Not a NAS-Bench-201 genotype: its 'space' is {space!r}; "
                f"expected {SPACE_NAME!r}."
            )
        if "arch_str" not in data:
            raise ValueError(
                "NAS-Bench-201 genotype lacks arch_str; it needs space, "
                "arch_str."
            )
        unknown = sorted(set(data) - {"space", "arch_str"})
        if unknown:
            raise ValueError(
                "NAS-Bench-201 genotype has unknown keys "
                f"{', '.join(unknown)}; allowed: space, arch_str."
            )
        return cls.from_string(data["arch_str"])

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
            A `NasBench201Genotype`.

        Raises:
            ValueError: the text is not valid JSON or not a valid
                NAS-Bench-201 genotype.
        """
        try:
            data = json.loads(text)
        except (TypeError, json.JSONDecodeError) as error:
            raise ValueError(
                f"NAS-Bench-201 genotype: not valid JSON ({error})."
            ) from error
        return cls.from_dict(data)
