"""The DARTS evaluation network for CIFAR-size images (Liu et al., 2019).

After the search, DARTS (and BASE, whose evaluation code is DARTS's) trains
the derived genotype as an ordinary network, `NetworkCIFAR` of DARTS's
`cnn/model.py`. Its shape, rebuilt here from the published description:

* stem: a 3x3 convolution to `3 * C` channels (no bias) and BN;
* `num_cells` cells; cells `num_cells // 3` and `2 * num_cells // 3` are
  reduction cells (`search_space.reduction_cells`): they halve the
  resolution and double C;
* a cell (`DartsCell`) preprocesses its two inputs, the outputs of the
  two previous cells, to C channels: `FactorizedReduce` for the first
  when the previous-previous cell had twice the resolution (the previous
  cell reduced), else ReLU-conv1x1-BN; each of its 4 intermediate nodes
  sums two ops of the genotype, h_k = o_a(x_a) + o_b(x_b); the cell's
  output concatenates the `concat` nodes (4 C channels). In a reduction
  cell the ops reading the cell's inputs (nodes 0 and 1) have stride 2;
* during training, drop-path (`drop_path`) on the output of every op but
  the identity, at a rate `DropPathSchedule` ramps over the epochs;
* an auxiliary head (`AuxiliaryHead`) after the second reduction cell,
  trained with weight `auxiliary_weight` and absent from the inference
  network;
* global average pooling and a dense classifier.

Parameter counts, DARTS's way (`utils.count_parameters_in_MB`: every
trainable weight, BN's moving statistics and the auxiliary head left out;
see `network.count_parameters`), at 10 classes and 32x32 (measured by
tests/evaluation/darts_network_test.py):

* `CIFAR_TUNED`, C=40, 20 cells: 3,145,490 = 3.145M, BASE's published
  figure;
* `DARTS_V2`, C=36, 20 cells: 3,349,342 = 3.349M, the figure DARTS's
  `train.py` prints.
"""

import keras

from base_tf.search_space import building_blocks, operations
from base_tf.search_space.darts import (
    INPUTS_PER_NODE,
    NUM_INPUT_NODES,
    DartsGenotype,
    reduction_cells,
)

_PACKAGE = "base_tf"

# The auxiliary head's layers, from DARTS's `AuxiliaryHeadCIFAR`, which
# assumes an 8x8 input (32x32 images): 5x5 average pooling at stride 3
# gives 2x2, a 2x2 convolution 1x1.
AUX_POOL_SIZE = 5
AUX_POOL_STRIDE = 3
AUX_CONV_CHANNELS = 128
AUX_CONV_KERNEL = 2
AUX_FEATURES = 768

STEM_MULTIPLIER = 3


def drop_path(x, rate, seed=None):
    """DARTS's drop-path: zeroes each example's `x` with probability `rate`.

        y_n = x_n * m_n / (1 - rate),  m_n ~ Bernoulli(1 - rate)

    One Bernoulli draw per example (the whole feature map of that example
    is kept or dropped), scaled so that E[y] = x, as DARTS's `drop_path`.

    Args:
        x: a tensor `[N, H, W, C]`.
        rate: the drop probability, in [0, 1) (a float or a scalar tensor
            or variable).
        seed: an int or a `keras.random.SeedGenerator`.

    Returns:
        A tensor shaped as `x`.
    """
    keep = 1.0 - keras.ops.cast(rate, x.dtype)
    shape = (keras.ops.shape(x)[0], 1, 1, 1)
    noise = keras.random.uniform(shape, dtype=x.dtype, seed=seed)
    mask = keras.ops.floor(keep + noise)
    return x * mask / keep


@keras.saving.register_keras_serializable(package=_PACKAGE)
class DartsCell(keras.layers.Layer):
    """One cell of the DARTS evaluation network (DARTS's `Cell`).

    Called on `[s0, s1]`, the outputs of the previous-previous and the
    previous cell. With x_0 = preprocess0(s0), x_1 = preprocess1(s1) (C
    channels each), node k (2..5) is

        x_k = o_{2k-4}(x_{i_{2k-4}}) + o_{2k-3}(x_{i_{2k-3}})

    with the (op, input) pairs of the genotype, and the cell's output is
    concat(x_k for k in concat), `len(concat) * C` channels.

    In training, every op but the identity has its output passed through
    `drop_path` at the rate held by the non-trainable variable
    `drop_path_rate` (0 until `DropPathSchedule` sets it). At inference
    the cell is deterministic.

    Args:
        pairs: the cell's 8 (op, input) pairs, as a `DartsGenotype` holds
            them (`genotype.normal` or `genotype.reduce`).
        concat: the nodes concatenated as the output.
        channels: C, the channels of every node.
        reduction: whether this cell halves the resolution.
        reduction_prev: whether the previous cell did (then s0 has twice
            s1's resolution and is reduced by `FactorizedReduce`).
        seed: seeds drop-path's draws (an int, or None for a random seed).
        **kwargs: passed to `keras.layers.Layer` (e.g. `name`).
    """

    def __init__(
        self,
        pairs,
        concat,
        channels,
        reduction=False,
        reduction_prev=False,
        seed=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        # Validates pairs and concat as a genotype cell would.
        cell = DartsGenotype(pairs, concat, pairs, concat)
        self.pairs = cell.normal
        self.concat = cell.normal_concat
        self.channels = channels
        self.reduction = bool(reduction)
        self.reduction_prev = bool(reduction_prev)
        self.seed = seed
        if self.reduction_prev:
            self.preprocess0 = operations.FactorizedReduce(channels)
        else:
            self.preprocess0 = operations.ReLUConvBN(channels, 1, 1)
        self.preprocess1 = operations.ReLUConvBN(channels, 1, 1)
        self.cell_ops = [
            operations.make_op(
                op,
                channels,
                2 if self.reduction and source < NUM_INPUT_NODES else 1,
                True,
            )
            for op, source in self.pairs
        ]
        self.seed_generator = keras.random.SeedGenerator(seed)

    def build(self, input_shape):
        shape0, shape1 = input_shape
        shapes = [
            building_blocks.build_in_order([self.preprocess0], shape0),
            building_blocks.build_in_order([self.preprocess1], shape1),
        ]
        for start in range(0, len(self.pairs), INPUTS_PER_NODE):
            outputs = [
                building_blocks.build_in_order(
                    [self.cell_ops[j]], shapes[source]
                )
                for j, (_, source) in enumerate(
                    self.pairs[start : start + INPUTS_PER_NODE], start
                )
            ]
            shapes.append(outputs[0])
        self.drop_path_rate = self.add_weight(
            shape=(),
            initializer="zeros",
            trainable=False,
            name="drop_path_rate",
        )

    def call(self, inputs, training=None):
        s0, s1 = inputs
        states = [
            self.preprocess0(s0, training=training),
            self.preprocess1(s1, training=training),
        ]
        for start in range(0, len(self.pairs), INPUTS_PER_NODE):
            total = None
            for j in range(start, start + INPUTS_PER_NODE):
                op = self.cell_ops[j]
                h = op(states[self.pairs[j][1]], training=training)
                if training and not isinstance(op, operations.Identity):
                    h = drop_path(h, self.drop_path_rate, self.seed_generator)
                total = h if total is None else total + h
            states.append(total)
        return keras.ops.concatenate([states[i] for i in self.concat], -1)

    def compute_output_shape(self, input_shape):
        return building_blocks.strided_shape(
            input_shape[1],
            2 if self.reduction else 1,
            len(self.concat) * self.channels,
        )

    def get_config(self):
        return {
            **super().get_config(),
            "pairs": [list(pair) for pair in self.pairs],
            "concat": list(self.concat),
            "channels": self.channels,
            "reduction": self.reduction,
            "reduction_prev": self.reduction_prev,
            "seed": self.seed,
        }


def auxiliary_geometry(height, width):
    """The auxiliary head's pooling window and conv padding at a map size.

    DARTS's head expects an 8x8 map: 5x5 average pooling, stride 3, no
    padding (2x2), then a 2x2 convolution without padding (1x1). For
    smaller maps (images under 32x32) the window shrinks to the map and
    the 2x2 convolution is zero-padded ("same") when the pooled map is
    1x1; at 8x8 it is exactly DARTS's head. A larger map gives a pooled
    map above 2x2, which the head averages before its dense layer.

    Args:
        height: the map's height, a positive int.
        width: the map's width, a positive int.

    Returns:
        `(pool_size, conv_padding)`: a pair of ints and "valid" or "same".
    """
    pool = (min(AUX_POOL_SIZE, height), min(AUX_POOL_SIZE, width))
    pooled = [
        (size - window) // AUX_POOL_STRIDE + 1
        for size, window in zip((height, width), pool, strict=True)
    ]
    padding = "valid" if min(pooled) >= AUX_CONV_KERNEL else "same"
    return pool, padding


@keras.saving.register_keras_serializable(package=_PACKAGE)
class AuxiliaryHead(keras.layers.Layer):
    """DARTS's `AuxiliaryHeadCIFAR`: extra logits from an inner feature map.

    ReLU, average pooling (5x5, stride 3, no padding), 1x1 conv to 128
    channels, BN, ReLU, 2x2 conv to 768 channels, BN, ReLU, global average
    (the identity on DARTS's 1x1 map), dense to the classes. See
    `auxiliary_geometry` for other sizes than 32x32 images.

    Args:
        num_classes: the number of classes.
        pool_size: the average-pooling window, (height, width).
        conv_padding: the 2x2 convolution's padding, "valid" or "same".
        **kwargs: passed to `keras.layers.Layer` (e.g. `name`).
    """

    def __init__(
        self,
        num_classes,
        pool_size=(AUX_POOL_SIZE, AUX_POOL_SIZE),
        conv_padding="valid",
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.num_classes = num_classes
        self.pool_size = tuple(pool_size)
        self.conv_padding = conv_padding
        self.pool = keras.layers.AveragePooling2D(
            self.pool_size, strides=AUX_POOL_STRIDE, padding="valid"
        )
        self.conv_1 = building_blocks.conv(AUX_CONV_CHANNELS, 1)
        self.bn_1 = building_blocks.batch_norm()
        self.conv_2 = building_blocks.conv(
            AUX_FEATURES, AUX_CONV_KERNEL, padding=conv_padding
        )
        self.bn_2 = building_blocks.batch_norm()
        self.global_pool = keras.layers.GlobalAveragePooling2D()
        self.classifier = keras.layers.Dense(num_classes)

    def build(self, input_shape):
        building_blocks.build_in_order(
            [
                self.pool,
                self.conv_1,
                self.bn_1,
                self.conv_2,
                self.bn_2,
                self.global_pool,
                self.classifier,
            ],
            input_shape,
        )

    def call(self, inputs, training=None):
        x = self.pool(keras.ops.relu(inputs))
        x = keras.ops.relu(self.bn_1(self.conv_1(x), training=training))
        x = keras.ops.relu(self.bn_2(self.conv_2(x), training=training))
        return self.classifier(self.global_pool(x))

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.num_classes)

    def get_config(self):
        return {
            **super().get_config(),
            "num_classes": self.num_classes,
            "pool_size": list(self.pool_size),
            "conv_padding": self.conv_padding,
        }


def darts_network(
    genotype,
    num_classes,
    inputs,
    features,
    channels,
    num_cells,
    auxiliary=False,
    seed=None,
):
    """Wires the DARTS evaluation network on `features` (see module doc).

    Args:
        genotype: a `DartsGenotype`.
        num_classes: the number of classes.
        inputs: the model's `keras.Input`.
        features: the standardised images, a symbolic `[N, H, W, c]`.
        channels: C, the channels of the first cells.
        num_cells: the number of cells.
        auxiliary: whether to add the auxiliary head.
        seed: seeds drop-path (cell i uses `seed + i`), or None.

    Returns:
        A functional `keras.Model`: `inputs` -> logits, or, with
        `auxiliary`, -> {"logits": ..., "aux_logits": ...}.
    """
    stem_channels = STEM_MULTIPLIER * channels
    x = building_blocks.conv(stem_channels, 3, name="stem_conv")(features)
    s0 = s1 = building_blocks.batch_norm(name="stem_bn")(x)
    reductions = reduction_cells(num_cells)
    aux_cell = reductions[-1]
    c_curr = channels
    reduction_prev = False
    aux_logits = None
    for i in range(num_cells):
        reduction = i in reductions
        if reduction:
            c_curr *= 2
        cell_type = "reduce" if reduction else "normal"
        cell = DartsCell(
            getattr(genotype, cell_type),
            genotype.concat(cell_type),
            c_curr,
            reduction=reduction,
            reduction_prev=reduction_prev,
            seed=None if seed is None else seed + i,
            name=f"cell_{i}_{cell_type}",
        )
        s0, s1 = s1, cell([s0, s1])
        reduction_prev = reduction
        if auxiliary and i == aux_cell:
            pool, padding = auxiliary_geometry(s1.shape[1], s1.shape[2])
            aux_logits = AuxiliaryHead(
                num_classes, pool, padding, name="aux_logits"
            )(s1)
    x = keras.layers.GlobalAveragePooling2D(name="global_pool")(s1)
    logits = keras.layers.Dense(num_classes, name="logits")(x)
    if auxiliary:
        outputs = {"logits": logits, "aux_logits": aux_logits}
    else:
        outputs = logits
    return keras.Model(inputs, outputs, name="darts_network")
