"""A genotype as keras-tuner hyperparameters, and back.

Every choice of a cell is a named hyperparameter, so that keras-tuner's
summaries read as architectures:

* DARTS: `normal/node2/input0` (the input node of node 2's first slot) and
  `normal/node2/op0` (its op), likewise `input1`/`op1` and nodes 2..5 of
  the `normal` and `reduce` cells;
* NAS-Bench-201: `cell/node2/from1` (the op on the edge 1 -> 2), for the
  6 edges of the cell.

A node's two DARTS slots are an unordered pair: `values` lists them
sorted by (input, op), so one architecture has one set of values.
"""

import keras_tuner

from base_tf import search_space


def declare(hp, space):
    """Declares the choices of `space` in `hp` and returns the genotype.

    Args:
        hp: `keras_tuner.HyperParameters`.
        space: a `SearchSpace` or its name.

    Returns:
        The genotype of `hp`'s current values (each choice's default, the
        first candidate, when it has no value yet).
    """
    space = search_space.get_space(space) if isinstance(space, str) else space
    cells = {}
    for cell_type in space.cell_types:
        cells[cell_type] = [
            _declare_node(hp, space, f"{cell_type}/node{k}", k)
            for k in space.computed_nodes
        ]
    return space.genotype_type.from_cell_nodes(cells)


def _declare_node(hp, space, prefix, node):
    """Declares `node`'s choices; returns its (op, input) pairs."""
    sources = [space.edges[e][0] for e in space.edges_into(node)]
    if space.inputs_per_node is None:
        # Every edge holds an op, "none" included.
        return [
            (hp.Choice(f"{prefix}/from{source}", list(space.ops)), source)
            for source in sources
        ]
    pairs = []
    for slot in range(space.inputs_per_node):
        source = hp.Choice(f"{prefix}/input{slot}", sources)
        op = hp.Choice(
            f"{prefix}/op{slot}", [op for op in space.ops if op != "none"]
        )
        pairs.append((op, source))
    return pairs


def names(space):
    """The names of `space`'s hyperparameters, as `declare` declares them."""
    hp = keras_tuner.HyperParameters()
    declare(hp, space)
    return {parameter.name for parameter in hp.space}


def values(genotype):
    """The hyperparameter values of `genotype` (see the module docstring)."""
    space = search_space.space_of(genotype)
    result = {}
    for cell_type in space.cell_types:
        for k, pairs in zip(
            space.computed_nodes, genotype.cell_nodes(cell_type), strict=True
        ):
            prefix = f"{cell_type}/node{k}"
            if space.inputs_per_node is None:
                for op, source in pairs:
                    result[f"{prefix}/from{source}"] = op
                continue
            ordered = sorted(pairs, key=lambda pair: (pair[1], pair[0]))
            for slot, (op, source) in enumerate(ordered):
                result[f"{prefix}/input{slot}"] = source
                result[f"{prefix}/op{slot}"] = op
    return result
