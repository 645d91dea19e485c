"""The supernet f(x; theta, z) over a cell search space.

Every edge of every cell mixes all candidate ops with the weights z of its
cell type (`mixed_op.MixedNode`); theta, all the weights of the network, is
one flat vector (`parameters.ParameterLayout`). `Supernet.apply(theta, z,
images)` is a pure function: BASE's inner loop differentiates it with
respect to samples of q(theta|D) and q(z|D) and never touches a variable.

Macro-architectures, as each space's search network defines them:

* DARTS: a 3x3 stem of `stem_multiplier * C` channels; `num_cells` cells,
  reduction cells (stride 2, channels doubled) at 1/3 and 2/3 of the depth;
  each cell preprocesses its two inputs with ReLU-conv1x1-BN (a factorized
  reduction when the previous cell reduced), has 4 mixed nodes and outputs
  their concatenation; global average pooling and a linear classifier.
* NAS-Bench-201: a 3x3 stem of C channels; 3 stages of `num_cells` cells at
  C, 2C, 4C channels joined by residual reduction blocks; BN-ReLU, global
  average pooling and a linear classifier.

All batch norms are without scale and shift and use batch statistics (see
`kernels`).
"""

import tensorflow as tf

from base_tf import search_space as search_spaces
from base_tf.supernet.kernels import batch_norm, factorized_reduce
from base_tf.supernet.mixed_op import MixedNode
from base_tf.supernet.parameters import ParameterLayout


def _conv(params, name, x, stride=1):
    return tf.nn.conv2d(x, params[name], stride, "SAME")


def _relu_conv_bn(params, name, x, stride=1):
    return batch_norm(_conv(params, name, tf.nn.relu(x), stride))


class _DartsCell:
    """A DARTS cell of the supernet: 2 inputs, 4 mixed nodes, concat."""

    def __init__(
        self, layout, prefix, space, c_pp, c_p, c, reduction, reduction_prev
    ):
        self.reduction = reduction
        self.cell_type = 1 if reduction else 0
        self.reduction_prev = reduction_prev
        self.prefix = prefix
        if reduction_prev:
            for half in ("a", "b"):
                layout.add(
                    f"{prefix}/preprocess0_{half}", [1, 1, c_pp, c // 2], c_pp
                )
        else:
            layout.add(f"{prefix}/preprocess0", [1, 1, c_pp, c], c_pp)
        layout.add(f"{prefix}/preprocess1", [1, 1, c_p, c], c_p)
        self.nodes = []
        for node in space.computed_nodes:
            in_edges = [
                (e, i, 2 if reduction and i < space.num_input_nodes else 1)
                for e, (i, k) in enumerate(space.edges)
                if k == node
            ]
            self.nodes.append(
                MixedNode(
                    layout,
                    f"{prefix}/node{node}",
                    space.ops,
                    in_edges,
                    c,
                    space.pool_batch_norm,
                )
            )

    def __call__(self, params, s0, s1, z, one_hot):
        p = self.prefix
        if self.reduction_prev:
            s0 = batch_norm(
                factorized_reduce(
                    tf.nn.relu(s0),
                    params[f"{p}/preprocess0_a"],
                    params[f"{p}/preprocess0_b"],
                )
            )
        else:
            s0 = _relu_conv_bn(params, f"{p}/preprocess0", s0)
        states = [s0, _relu_conv_bn(params, f"{p}/preprocess1", s1)]
        for node in self.nodes:
            states.append(node(params, states, z[self.cell_type], one_hot))
        return tf.concat(states[2:], -1)


class _NasBench201Cell:
    """A NAS-Bench-201 cell of the supernet: 3 mixed nodes, the last out."""

    def __init__(self, layout, prefix, space, c):
        self.nodes = []
        for node in space.computed_nodes:
            in_edges = [
                (e, i, 1) for e, (i, k) in enumerate(space.edges) if k == node
            ]
            self.nodes.append(
                MixedNode(
                    layout,
                    f"{prefix}/node{node}",
                    space.ops,
                    in_edges,
                    c,
                    space.pool_batch_norm,
                )
            )

    def __call__(self, params, x, z, one_hot):
        states = [x]
        for node in self.nodes:
            states.append(node(params, states, z[0], one_hot))
        return states[-1]


class Supernet:
    """f(x; theta, z) for a search space, as a pure function.

    Args:
        space: a `SearchSpace` or its name ("darts", "nas_bench_201").
        channels: C, the channels of the first cells.
        num_cells: DARTS: the number of cells; NAS-Bench-201: cells per
            stage (3 stages).
        num_classes: the classifier's outputs.
        image_channels: the input images' channels.
        stem_multiplier: DARTS: the stem has `stem_multiplier * C` channels.

    Raises:
        ValueError: an argument is out of range; the message says which.
    """

    def __init__(
        self,
        space,
        channels=16,
        num_cells=8,
        num_classes=10,
        image_channels=3,
        stem_multiplier=3,
    ):
        if isinstance(space, str):
            space = search_spaces.get_space(space)
        for name, value in (
            ("channels", channels),
            ("num_cells", num_cells),
            ("num_classes", num_classes),
            ("image_channels", image_channels),
            ("stem_multiplier", stem_multiplier),
        ):
            if (
                isinstance(value, bool)
                or not isinstance(value, int)
                or value < 1
            ):
                raise ValueError(
                    f"Supernet: {name} must be a positive int, got {value!r}."
                )
        if channels % 2:
            raise ValueError(
                f"Supernet: channels must be even (factorized reductions "
                f"split them in halves), got {channels}."
            )
        self.space = space
        self.channels = channels
        self.num_cells = num_cells
        self.num_classes = num_classes
        self.image_channels = image_channels
        self.stem_multiplier = stem_multiplier
        if space.name not in _BODIES:
            raise ValueError(
                f"Supernet: no macro-architecture for space {space.name!r}; "
                f"there is one for {', '.join(_BODIES)}."
            )
        self.layout = ParameterLayout()
        self._body = _BODIES[space.name](
            self.layout,
            space,
            channels,
            num_cells,
            image_channels,
            stem_multiplier,
        )
        features = self._body.features
        self.layout.add("classifier/kernel", [features, num_classes], features)
        self.layout.add("classifier/bias", [num_classes], 0)

    @property
    def num_parameters(self):
        """The length of theta."""
        return self.layout.size

    @property
    def z_shape(self):
        """The shape of z: `[cell types, edges, ops]`."""
        return (
            len(self.space.cell_types),
            len(self.space.edges),
            len(self.space.ops),
        )

    def apply(self, theta, z, images, one_hot=False):
        """The logits f(images; theta, z).

        Args:
            theta: the flat weight vector, `[num_parameters]`.
            z: the op weights, `z_shape`; rows of each cell type sum to 1
                for a proper mixture (a one-hot row selects one op).
            images: `[batch, height, width, image_channels]` float32.
            one_hot: every row of z is one-hot: compute only the selected
                op of each edge (`mixed_op.MixedNode`). The same values, and
                gradients for theta, the images and z's selected entries;
                z's other entries get none (they pass none on either with
                GDAS's straight-through estimator).

        Returns:
            `[batch, num_classes]` logits.
        """
        params = self.layout.unflatten(theta)
        x = self._body(params, images, z, one_hot)
        features = tf.reduce_mean(x, axis=[1, 2])
        return (
            tf.matmul(features, params["classifier/kernel"])
            + params["classifier/bias"]
        )


class _DartsBody:
    """DARTS's search network from the stem to the last cell's output."""

    def __init__(
        self, layout, space, c, num_cells, image_channels, stem_multiplier
    ):
        c_stem = stem_multiplier * c
        layout.add(
            "stem/conv", [3, 3, image_channels, c_stem], 9 * image_channels
        )
        reductions = set(search_spaces.reduction_cells(num_cells))
        c_pp, c_p, reduction_prev = c_stem, c_stem, False
        self.cells = []
        for i in range(num_cells):
            reduction = i in reductions
            if reduction:
                c *= 2
            self.cells.append(
                _DartsCell(
                    layout,
                    f"cell{i}",
                    space,
                    c_pp,
                    c_p,
                    c,
                    reduction,
                    reduction_prev,
                )
            )
            reduction_prev = reduction
            c_pp, c_p = c_p, len(space.computed_nodes) * c
        self.features = c_p

    def __call__(self, params, images, z, one_hot):
        s0 = s1 = batch_norm(_conv(params, "stem/conv", images))
        for cell in self.cells:
            s0, s1 = s1, cell(params, s0, s1, z, one_hot)
        return s1


class _NasBench201Body:
    """NAS-Bench-201's search network from the stem to the last BN-ReLU."""

    def __init__(self, layout, space, c, num_cells, image_channels, _):
        layout.add("stem/conv", [3, 3, image_channels, c], 9 * image_channels)
        self.stages = []
        for stage in range(3):
            if stage:
                p = f"stage{stage}/reduction"
                layout.add(f"{p}/conv_a", [3, 3, c, 2 * c], 9 * c)
                layout.add(f"{p}/conv_b", [3, 3, 2 * c, 2 * c], 18 * c)
                layout.add(f"{p}/shortcut", [1, 1, c, 2 * c], c)
                c *= 2
            self.stages.append(
                [
                    _NasBench201Cell(layout, f"stage{stage}/cell{i}", space, c)
                    for i in range(num_cells)
                ]
            )
        self.features = c

    def __call__(self, params, images, z, one_hot):
        x = batch_norm(_conv(params, "stem/conv", images))
        for stage, cells in enumerate(self.stages):
            if stage:
                x = self._residual_reduction(
                    params, f"stage{stage}/reduction", x
                )
            for cell in cells:
                x = cell(params, x, z, one_hot)
        return tf.nn.relu(batch_norm(x))

    @staticmethod
    def _residual_reduction(params, p, x):
        """NAS-Bench-201's residual block between stages (stride 2)."""
        y = _relu_conv_bn(params, f"{p}/conv_a", x, 2)
        y = _relu_conv_bn(params, f"{p}/conv_b", y)
        shortcut = _conv(
            params, f"{p}/shortcut", tf.nn.avg_pool2d(x, 2, 2, "SAME")
        )
        return y + shortcut


# Each space's macro-architecture, by the space's name.
_BODIES = {"darts": _DartsBody, "nas_bench_201": _NasBench201Body}
