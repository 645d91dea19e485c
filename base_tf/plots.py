"""Pictures of architectures and posteriors, as PNG files.

* `cell_diagram`: a genotype's cell as a graph (Graphviz's `dot` renders
  it; `apt-get install graphviz`).
* `posterior_heatmap`: q(z|D)'s op probabilities, one panel per cell type,
  edges by ops (matplotlib).
* `learning_curves`: a trained network's loss and accuracy per epoch.
"""

import os

import graphviz
import matplotlib

matplotlib.use("Agg")  # Files only: no display is needed or wanted.
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

from base_tf.search_space import cell_graph  # noqa: E402

# The fill of each kind of node of a cell diagram.
_FILL = {
    cell_graph.PREVIOUS_CELL: "darkseagreen2",
    cell_graph.NODE: "lightblue",
    cell_graph.CONCAT: "palegoldenrod",
}


def cell_diagram(genotype, cell_type, path):
    """Draws one cell of `genotype` and writes it to `path` (a .png).

    The genotype says what the cell's graph shows (its `cell_graph`):
    DARTS cells show the two input cells c_{k-2}, c_{k-1}, the
    intermediate nodes 0..3 and the output c_{k} (the concatenation);
    NAS-Bench-201 cells their 4 nodes, with `none` edges left out.

    Args:
        genotype: a `DartsGenotype` or `NasBench201Genotype`.
        cell_type: "normal" or "reduce" for DARTS, "cell" for NAS-Bench-201.
        path: the PNG to write.

    Returns:
        `path`.

    Raises:
        TypeError: `genotype` is not a genotype.
        ValueError: `cell_type` is not a cell type of its space.
        RuntimeError: Graphviz's `dot` is not installed.
    """
    graph = graphviz.Digraph(
        format="png",
        graph_attr={"rankdir": "LR", "label": cell_type, "labelloc": "t"},
        node_attr={"shape": "box", "style": "rounded,filled", "fontsize": "12"},
        edge_attr={"fontsize": "10"},
    )
    draw = getattr(genotype, "cell_graph", None)
    if draw is None:
        raise TypeError(f"Not a genotype: {genotype!r}.")
    cell = draw(cell_type)
    for name, kind in cell.nodes:
        graph.node(name, fillcolor=_FILL[kind])
    for source, target, op in cell.edges:
        if op is None:
            graph.edge(source, target, color="gray")
        else:
            graph.edge(source, target, label=op)
    stem, _ = os.path.splitext(path)
    try:
        graph.render(stem, cleanup=True)
    except graphviz.ExecutableNotFound:
        raise RuntimeError(
            "Drawing cells needs Graphviz's `dot`: apt-get install graphviz."
        ) from None
    return stem + ".png"


def posterior_heatmap(space, probs, path, title="q(z|D)"):
    """Draws the op probabilities `[cell types, edges, ops]` as heatmaps.

    Args:
        space: the `SearchSpace`.
        probs: op probabilities (see `derivation.op_probabilities`).
        path: the PNG to write.
        title: the figure's title.

    Returns:
        `path`.
    """
    num_cells = len(space.cell_types)
    fig, axes = plt.subplots(
        1,
        num_cells,
        figsize=(
            1.0 + 0.7 * space.num_ops * num_cells,
            1.5 + 0.3 * space.num_edges,
        ),
        squeeze=False,
    )
    for c, (ax, cell_type) in enumerate(
        zip(axes[0], space.cell_types, strict=True)
    ):
        image = ax.imshow(
            probs[c], vmin=0.0, vmax=1.0, cmap="viridis", aspect="auto"
        )
        ax.set_title(cell_type)
        ax.set_xticks(range(space.num_ops), space.ops, rotation=60, ha="right")
        ax.set_yticks(
            range(space.num_edges), [f"{i}->{k}" for i, k in space.edges]
        )
        for e in range(space.num_edges):
            for o in range(space.num_ops):
                p = probs[c, e, o]
                ax.text(
                    o, e, f"{p:.2f}", ha="center", va="center", fontsize=7,
                    color="white" if p < 0.5 else "black",
                )  # fmt: skip
    fig.colorbar(image, ax=axes[0].tolist(), label="probability")
    fig.suptitle(title)
    fig.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(fig)
    return path


def learning_curves(epochs, curves, path, title=None):
    """Draws metrics per epoch, one panel a metric, one line a split.

    Args:
        epochs: the epoch numbers (the x axis).
        curves: `{metric: {split: values}}`, e.g. `{"loss": {"train": [...],
            "test": [...]}, "accuracy": {...}}`, one value an epoch.
        path: the PNG to write.
        title: the figure's title.

    Returns:
        `path`.
    """
    figure, axes = plt.subplots(
        1, len(curves), figsize=(5 * len(curves), 4), squeeze=False
    )
    for axis, (metric, splits) in zip(axes[0], curves.items(), strict=True):
        for split, values in splits.items():
            axis.plot(epochs, values, marker="o", label=split)
        axis.xaxis.set_major_locator(MaxNLocator(integer=True))
        axis.set_xlabel("epoch")
        axis.set_ylabel(metric)
        axis.grid(alpha=0.3)
        axis.legend()
    if title:
        figure.suptitle(title)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path
