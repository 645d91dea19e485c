"""`CellGraph`: a genotype's cell as the graph a picture of it shows.

Each space draws its cells its own way: DARTS names the two input nodes
after the cells they come from (c_{k-2}, c_{k-1}) and joins the
intermediate nodes in an output node, c_{k}, their concatenation;
NAS-Bench-201 numbers its nodes 0..3 and leaves out the `none` edges (no
connection). A genotype says which with `cell_graph(cell_type)`, so that
code that draws a cell (`base_tf.plots.cell_diagram`) need not know the
space.
"""

import dataclasses

# The kinds of node a cell's graph shows.
PREVIOUS_CELL = "previous_cell"  # An earlier cell's output, fed to the cell.
NODE = "node"  # A node of the cell's DAG.
CONCAT = "concat"  # The cell's output: its nodes concatenated.
KINDS = (PREVIOUS_CELL, NODE, CONCAT)


@dataclasses.dataclass(frozen=True)
class CellGraph:
    """A cell as a graph to draw: named nodes and the edges between them.

    Args:
        nodes: `(name, kind)` of every node, in drawing order; `kind` is
            one of `KINDS`.
        edges: `(source, target, op)` of every edge, by node names; `op` is
            the op the edge carries, or None for an edge that only joins a
            node to the cell's output (`CONCAT`).

    Raises:
        ValueError: a kind is unknown, a name repeats, or an edge names a
            node that is not in `nodes`.
    """

    nodes: tuple
    edges: tuple

    def __post_init__(self):
        nodes = tuple((name, kind) for name, kind in self.nodes)
        edges = tuple((a, b, op) for a, b, op in self.edges)
        names = [name for name, _ in nodes]
        unknown = sorted({kind for _, kind in nodes} - set(KINDS))
        if unknown:
            raise ValueError(
                f"CellGraph: unknown node kinds {unknown}; the kinds are "
                f"{', '.join(KINDS)}."
            )
        if len(set(names)) != len(names):
            raise ValueError(f"CellGraph: node names repeat: {names}.")
        for source, target, _ in edges:
            if source not in names or target not in names:
                raise ValueError(
                    f"CellGraph: edge {source!r} -> {target!r} names a node "
                    f"that is not one of {names}."
                )
        object.__setattr__(self, "nodes", nodes)
        object.__setattr__(self, "edges", edges)
