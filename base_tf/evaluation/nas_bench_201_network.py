"""The NAS-Bench-201 network (Dong and Yang, ICLR 2020), as it defines it.

Every architecture of the benchmark is one cell repeated in a fixed
skeleton (the benchmark's `TinyNetwork` / `InferCell`, rebuilt here from
its description):

* stem: a 3x3 convolution to C = 16 channels (no bias) and BN;
* three stages of N = 5 cells, at C, 2C and 4C channels (16/32/64);
* between stages, a residual reduction block (`ResidualReduction`):
  ReLU-conv3x3 stride 2-BN, ReLU-conv3x3-BN, plus a shortcut of 2x2
  average pooling (stride 2) and a 1x1 convolution;
* the cell (`NasBench201Cell`): node 0 is its input, node j (1..3) sums
  op_{i,j}(x_i) over i < j with the genotype's op on each edge ("none"
  edges contribute zeros), node 3 is its output;
* head: BN, ReLU, global average pooling, dense classifier.

Cell ops are the search space's `OPS` (`nor_conv_kxk` = ReLU-conv-BN,
`avg_pool_3x3` without BN, `skip_connect` the identity), all affine.

Parameter count (trainable weights; BN moving statistics not counted):
the all-`nor_conv_3x3` cell at C=16, N=5, 10 classes has 1,531,546
parameters (measured by tests/evaluation/nas_bench_201_network_test.py,
and by hand: stem 464, stage cells 70,080 + 278,400 + 1,109,760,
reductions 14,464 + 57,600, head BN 128, classifier 650), the 1.5315 MB
NAS-Bench-201 reports for its largest CIFAR-10 network.
"""

import keras

from base_tf.search_space import (
    NasBench201Genotype,
    building_blocks,
    operations,
)

_PACKAGE = "base_tf"

STAGES = 3


@keras.saving.register_keras_serializable(package=_PACKAGE)
class NasBench201Cell(keras.layers.Layer):
    """A NAS-Bench-201 cell: x_j = sum_{i<j} op_{i,j}(x_i), output x_3.

    Args:
        arch_str: the cell, as NAS-Bench-201's string
            (`|op~0|+|op~0|op~1|+|op~0|op~1|op~2|`).
        channels: the channels of the input and of every node.
        **kwargs: passed to `keras.layers.Layer` (e.g. `name`).

    Raises:
        ValueError: `arch_str` is not a valid NAS-Bench-201 cell.
    """

    def __init__(self, arch_str, channels, **kwargs):
        super().__init__(**kwargs)
        self.genotype = NasBench201Genotype.from_string(arch_str)
        self.channels = channels
        # One op per edge, node by node, each node's edges by input.
        self.edge_ops = [
            operations.make_op(op, channels, 1, True)
            for pairs in self.genotype.nodes
            for op, _ in pairs
        ]

    def build(self, input_shape):
        for op in self.edge_ops:
            op.build(input_shape)

    def call(self, inputs, training=None):
        nodes = [inputs]
        ops = iter(self.edge_ops)
        for pairs in self.genotype.nodes:
            total = None
            for _, source in pairs:
                h = next(ops)(nodes[source], training=training)
                total = h if total is None else total + h
            nodes.append(total)
        return nodes[-1]

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return {
            **super().get_config(),
            "arch_str": str(self.genotype),
            "channels": self.channels,
        }


@keras.saving.register_keras_serializable(package=_PACKAGE)
class ResidualReduction(keras.layers.Layer):
    """NAS-Bench-201's reduction block (its `ResNetBasicblock`, stride 2).

        y = BN(conv3x3(ReLU(BN(conv3x3_s2(ReLU(x))))))
            + conv1x1(avgpool2x2_s2(x))

    The shortcut's pooling is SAME-padded so that odd sizes give
    `ceil(H / 2)`, like the strided convolution; on even sizes it is the
    benchmark's unpadded 2x2 pooling.

    Args:
        channels: the output channels.
        **kwargs: passed to `keras.layers.Layer` (e.g. `name`).
    """

    def __init__(self, channels, **kwargs):
        super().__init__(**kwargs)
        self.channels = channels
        self.conv_a = operations.ReLUConvBN(channels, 3, 2)
        self.conv_b = operations.ReLUConvBN(channels, 3, 1)
        self.pool = keras.layers.AveragePooling2D(2, strides=2, padding="same")
        self.shortcut = building_blocks.conv(channels, 1)

    def build(self, input_shape):
        building_blocks.build_in_order([self.conv_a, self.conv_b], input_shape)
        building_blocks.build_in_order([self.pool, self.shortcut], input_shape)

    def call(self, inputs, training=None):
        x = self.conv_a(inputs, training=training)
        x = self.conv_b(x, training=training)
        return x + self.shortcut(self.pool(inputs))

    def compute_output_shape(self, input_shape):
        return building_blocks.strided_shape(input_shape, 2, self.channels)

    def get_config(self):
        return {**super().get_config(), "channels": self.channels}


def nas_bench_201_network(
    genotype, num_classes, inputs, features, channels, num_cells
):
    """Wires the NAS-Bench-201 network on `features` (see module doc).

    Args:
        genotype: a `NasBench201Genotype`.
        num_classes: the number of classes.
        inputs: the model's `keras.Input`.
        features: the standardised images, a symbolic `[N, H, W, c]`.
        channels: C, the channels of the first stage (16 in the benchmark).
        num_cells: N, the cells of each stage (5 in the benchmark).

    Returns:
        A functional `keras.Model`: `inputs` -> logits.
    """
    x = building_blocks.conv(channels, 3, name="stem_conv")(features)
    x = building_blocks.batch_norm(name="stem_bn")(x)
    arch_str = str(genotype)
    c = channels
    for stage in range(STAGES):
        if stage:
            c *= 2
            x = ResidualReduction(c, name=f"reduction_{stage}")(x)
        for i in range(num_cells):
            x = NasBench201Cell(arch_str, c, name=f"cell_{stage}_{i}")(x)
    x = building_blocks.batch_norm(name="head_bn")(x)
    x = keras.layers.ReLU(name="head_relu")(x)
    x = keras.layers.GlobalAveragePooling2D(name="global_pool")(x)
    logits = keras.layers.Dense(num_classes, name="logits")(x)
    return keras.Model(inputs, logits, name="nas_bench_201_network")
