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

from base_tf.search_space import DartsGenotype, NasBench201Genotype  # noqa: E402


def cell_diagram(genotype, cell_type, path):
    """Draws one cell of `genotype` and writes it to `path` (a .png).

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
        RuntimeError: Graphviz's `dot` is not installed.
    """
    graph = graphviz.Digraph(
        format="png",
        graph_attr={"rankdir": "LR", "label": cell_type, "labelloc": "t"},
        node_attr={"shape": "box", "style": "rounded,filled", "fontsize": "12"},
        edge_attr={"fontsize": "10"},
    )
    if isinstance(genotype, DartsGenotype):
        names = {0: "c_{k-2}", 1: "c_{k-1}"}
        for node in (0, 1):
            graph.node(names[node], fillcolor="darkseagreen2")
        for index, pairs in enumerate(genotype.nodes(cell_type)):
            node = index + 2
            names[node] = str(index)
            graph.node(names[node], fillcolor="lightblue")
            for op, source in pairs:
                graph.edge(names[source], names[node], label=op)
        graph.node("c_{k}", fillcolor="palegoldenrod")
        for node in genotype.concat(cell_type):
            graph.edge(names[node], "c_{k}", color="gray")
    elif isinstance(genotype, NasBench201Genotype):
        for node in range(len(genotype.nodes) + 1):
            graph.node(str(node), fillcolor="lightblue")
        for index, pairs in enumerate(genotype.nodes):
            for op, source in pairs:
                if op != "none":
                    graph.edge(str(source), str(index + 1), label=op)
    else:
        raise TypeError(f"Not a genotype: {genotype!r}.")
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
