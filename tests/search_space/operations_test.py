"""Tests for base_tf.search_space.operations."""

import itertools
import os

import keras
import numpy as np
import tensorflow as tf
from absl.testing import parameterized

from base_tf.search_space import building_blocks, operations
from base_tf.search_space.operations import OPS

CHANNELS = 4
BATCH = 2

# Ops whose output mixes pixels through learned weights and BN.
WEIGHTED_OPS = (
    "sep_conv_3x3",
    "sep_conv_5x5",
    "sep_conv_7x7",
    "dil_conv_3x3",
    "dil_conv_5x5",
    "conv_7x1_1x7",
    "nor_conv_1x1",
    "nor_conv_3x3",
)


def _inputs(size, channels=CHANNELS, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((BATCH, size, size, channels)).astype(np.float32)


def _grid(size):
    """A 1x size x size x 1 input holding 0, 1, ..., size**2 - 1."""
    return np.arange(size * size, dtype=np.float32).reshape(1, size, size, 1)


class OutputShapeTest(tf.test.TestCase, parameterized.TestCase):
    @parameterized.parameters(
        itertools.product(sorted(OPS), (1, 2), (8, 7), (True, False))
    )
    def test_output_shape(self, name, stride, size, affine):
        op = OPS[name](CHANNELS, stride, affine)
        expected_size = size if stride == 1 else (size + 1) // 2
        expected = (BATCH, expected_size, expected_size, CHANNELS)
        x = _inputs(size)
        for training in (True, False):
            self.assertEqual(tuple(op(x, training=training).shape), expected)
        self.assertEqual(op.compute_output_shape(x.shape), expected)
        symbolic = op(keras.Input((size, size, CHANNELS), batch_size=BATCH))
        self.assertEqual(tuple(symbolic.shape), expected)

    @parameterized.parameters(
        itertools.product(
            ("skip_connect", "dil_conv_3x3", "dil_conv_5x5", "sep_conv_3x3"),
            (7, 8),
        )
    )
    def test_unknown_spatial_size_gives_same_values(self, name, size):
        # FactorizedReduce and DilConv take a different path when the
        # spatial size is only known at run time; the values must agree.
        op = OPS[name](CHANNELS, 2, True)
        x = _inputs(size)
        static = op(x, training=False)
        dynamic = tf.function(
            lambda t: op(t, training=False),
            input_signature=[tf.TensorSpec([None, None, None, CHANNELS])],
        )(x)
        self.assertAllClose(static, dynamic, atol=1e-5)

    def test_factorized_reduce_changes_channels(self):
        op = operations.FactorizedReduce(6)
        self.assertEqual(tuple(op(_inputs(7, channels=4)).shape), (2, 4, 4, 6))

    def test_relu_conv_bn_changes_channels(self):
        op = operations.ReLUConvBN(6, 1, stride=1)
        self.assertEqual(tuple(op(_inputs(8, channels=4)).shape), (2, 8, 8, 6))


class ValuesTest(tf.test.TestCase, parameterized.TestCase):
    @parameterized.parameters((1, 8), (2, 8), (2, 7))
    def test_none_outputs_zeros(self, stride, size):
        y = OPS["none"](CHANNELS, stride, True)(_inputs(size))
        self.assertAllEqual(y, np.zeros_like(y))

    @parameterized.parameters(8, 7)
    def test_skip_connect_at_stride_1_is_identity(self, size):
        op = OPS["skip_connect"](CHANNELS, 1, True)
        self.assertIsInstance(op, operations.Identity)
        self.assertEmpty(op.weights)
        x = _inputs(size)
        self.assertAllEqual(op(x), x)

    def test_skip_connect_at_stride_2_is_factorized_reduce(self):
        op = OPS["skip_connect"](CHANNELS, 2, False)
        self.assertIsInstance(op, operations.FactorizedReduce)
        self.assertFalse(op.affine)

    def test_max_pool_values(self):
        x = _grid(4)
        stride_1 = OPS["max_pool_3x3"](1, 1, True)(x)[0, ..., 0]
        self.assertAllEqual(
            stride_1,
            [[5, 6, 7, 7], [9, 10, 11, 11], [13, 14, 15, 15], [13, 14, 15, 15]],
        )
        # SAME at stride 2 on an even size: windows centred on 1 and 3.
        stride_2 = OPS["max_pool_3x3"](1, 2, True)(x)[0, ..., 0]
        self.assertAllEqual(stride_2, [[10, 11], [14, 15]])

    def test_max_pool_ignores_padding_for_negative_inputs(self):
        x = _grid(4) - 100.0
        y = OPS["max_pool_3x3"](1, 1, True)(x)[0, ..., 0]
        self.assertEqual(float(y[0, 0]), 5.0 - 100.0)

    def test_avg_pool_excludes_padding(self):
        x = _grid(4)
        y = OPS["avg_pool_3x3"](1, 1, True)(x)[0, ..., 0]
        # Corner: (0 + 1 + 4 + 5) / 4, not / 9.
        self.assertAllClose(y[0, 0], 2.5)
        # Edge: (0 + 1 + 2 + 4 + 5 + 6) / 6.
        self.assertAllClose(y[0, 1], 3.0)
        # Interior: (0 + 1 + 2 + 4 + 5 + 6 + 8 + 9 + 10) / 9.
        self.assertAllClose(y[1, 1], 5.0)
        y = OPS["avg_pool_3x3"](1, 2, True)(x)[0, ..., 0]
        # Windows rows/cols {0,1,2} and {2,3}: 45/9, 39/6, 66/6, 50/4.
        self.assertAllClose(y, [[5.0, 6.5], [11.0, 12.5]])

    @parameterized.parameters(8, 7)
    def test_factorized_reduce_values(self, size):
        op = operations.FactorizedReduce(4, affine=False)
        x = _inputs(size)
        y = op(x, training=False)
        w_even = op.conv_even.kernel.numpy()[0, 0]
        w_odd = op.conv_odd.kernel.numpy()[0, 0]
        relu = np.maximum(x, 0.0)
        # Odd sizes: the shifted path reads one zero row/column past the end.
        padded = np.pad(relu, ((0, 0), (0, 1), (0, 1), (0, 0)))
        out = (size + 1) // 2
        even = relu[:, ::2, ::2, :] @ w_even
        odd = padded[:, 1::2, 1::2, :][:, :out, :out] @ w_odd
        expected = np.concatenate([even, odd], axis=-1)
        # Fresh BN in inference: mean 0, variance 1, no centre or scale.
        expected /= np.sqrt(1.0 + building_blocks.BN_EPSILON)
        self.assertAllClose(y, expected, atol=1e-5)
        if size % 2:
            self.assertAllEqual(y[:, -1, :, 2:], np.zeros((2, out, 2)))

    @parameterized.parameters(
        itertools.product(("dil_conv_3x3", "dil_conv_5x5"), (8, 7))
    )
    def test_dil_conv_at_stride_2_is_strided_dilated_conv(self, name, size):
        op = OPS[name](CHANNELS, 2, True)
        x = _inputs(size)
        y = op(x, training=False)
        kernel_size = op.kernel_size
        relu = keras.ops.relu(x)
        # The definition: a SAME dilated conv at stride 1 read at the
        # centres TF's SAME padding gives a stride-2 window (1, 3, ... on
        # an even size, 0, 2, ... on an odd one).
        dense = keras.layers.DepthwiseConv2D(
            kernel_size, padding="same", dilation_rate=2, use_bias=False
        )
        dense.build(x.shape)
        dense.set_weights(op.depthwise.get_weights())
        offset = 1 - size % 2
        depthwise = dense(relu)[:, offset::2, offset::2, :]
        expected = op.bn(op.pointwise(depthwise), training=False)
        self.assertAllClose(y, expected, atol=1e-5)
        # Keras's own strided dilated depthwise conv agrees.
        strided = keras.layers.DepthwiseConv2D(
            kernel_size,
            strides=2,
            padding="same",
            dilation_rate=2,
            use_bias=False,
        )
        strided.build(x.shape)
        strided.set_weights(op.depthwise.get_weights())
        expected = op.bn(op.pointwise(strided(relu)), training=False)
        self.assertAllClose(y, expected, atol=1e-5)

    def test_dil_conv_odd_dilation_at_stride_2(self):
        op = operations.DilConv(CHANNELS, 3, stride=2, dilation=3)
        self.assertEqual(tuple(op(_inputs(8)).shape), (2, 4, 4, CHANNELS))

    def test_sep_conv_is_two_relu_depthwise_pointwise_bn(self):
        op = OPS["sep_conv_3x3"](CHANNELS, 1, True)
        x = _inputs(8)
        y = op(x, training=False)
        h = op.pointwise_1(op.depthwise_1(keras.ops.relu(x)))
        h = op.bn_1(h, training=False)
        h = op.pointwise_2(op.depthwise_2(keras.ops.relu(h)))
        self.assertAllClose(y, op.bn_2(h, training=False))
        self.assertEqual(op.depthwise_1.strides, (1, 1))
        self.assertEqual(
            OPS["sep_conv_3x3"](4, 2, True).depthwise_1.strides, (2, 2)
        )

    def test_relu_conv_bn_values(self):
        op = OPS["nor_conv_1x1"](CHANNELS, 1, False)
        x = _inputs(8)
        y = op(x, training=False)
        kernel = op.conv.kernel.numpy()[0, 0]
        expected = np.maximum(x, 0.0) @ kernel
        expected /= np.sqrt(1.0 + building_blocks.BN_EPSILON)
        self.assertAllClose(y, expected, atol=1e-5)

    def test_conv_7x1_1x7_kernels(self):
        op = OPS["conv_7x1_1x7"](CHANNELS, 2, True)
        op(_inputs(8))
        self.assertEqual(op.conv_1x7.kernel.shape, (1, 7, CHANNELS, CHANNELS))
        self.assertEqual(op.conv_7x1.kernel.shape, (7, 1, CHANNELS, CHANNELS))

    @parameterized.parameters(itertools.product(WEIGHTED_OPS, (True, False)))
    def test_affine_and_no_bias(self, name, affine):
        op = OPS[name](CHANNELS, 1, affine)
        op(_inputs(8))
        paths = [v.path for v in op.trainable_weights]
        self.assertFalse([p for p in paths if p.endswith("bias")], paths)
        bn_params = [p for p in paths if p.endswith(("gamma", "beta"))]
        if affine:
            self.assertNotEmpty(bn_params)
        else:
            self.assertEmpty(bn_params)
        # Moving statistics are kept either way.
        self.assertTrue(any(v.path.endswith("moving_mean") for v in op.weights))

    def test_bn_training_updates_moving_statistics(self):
        op = OPS["nor_conv_3x3"](CHANNELS, 1, False)
        x = _inputs(8) + 3.0
        op(x, training=True)
        self.assertNotAllClose(
            op.bn.moving_mean.numpy(), np.zeros(CHANNELS, np.float32)
        )
        self.assertAllClose(op.bn.momentum, building_blocks.BN_MOMENTUM)


class SerializationTest(tf.test.TestCase, parameterized.TestCase):
    @parameterized.parameters(itertools.product(sorted(OPS), (1, 2)))
    def test_get_config_round_trip(self, name, stride):
        op = OPS[name](CHANNELS, stride, False)
        config = op.get_config()
        clone = type(op).from_config(config)
        self.assertEqual(clone.get_config(), config)
        # Registered with Keras: no custom_objects needed.
        restored = keras.saving.deserialize_keras_object(
            keras.saving.serialize_keras_object(op)
        )
        self.assertIsInstance(restored, type(op))
        self.assertEqual(restored.get_config(), config)

    def test_registered_names(self):
        for cls in (
            operations.Zero,
            operations.Identity,
            operations.Pooling,
            operations.ReLUConvBN,
            operations.FactorizedReduce,
            operations.SepConv,
            operations.DilConv,
            operations.Conv1x7Conv7x1,
        ):
            self.assertEqual(
                keras.saving.get_registered_name(cls),
                f"base_tf>{cls.__name__}",
            )

    # The .keras format files an op's weights under its sublayers'
    # attribute names: renaming one would orphan the weights of every
    # saved model.
    @parameterized.parameters(
        ("none", 2, []),
        ("max_pool_3x3", 2, []),
        ("skip_connect", 1, []),
        ("skip_connect", 2, ["bn", "conv_even", "conv_odd"]),
        ("nor_conv_3x3", 2, ["bn", "conv"]),
        ("dil_conv_5x5", 2, ["bn", "depthwise", "pointwise"]),
        ("conv_7x1_1x7", 2, ["bn", "conv_1x7", "conv_7x1"]),
        (
            "sep_conv_3x3",
            2,
            [
                "bn_1",
                "bn_2",
                "depthwise_1",
                "depthwise_2",
                "pointwise_1",
                "pointwise_2",
            ],
        ),
    )
    def test_sublayer_attribute_names(self, name, stride, expected):
        op = OPS[name](CHANNELS, stride, True)
        sublayers = [
            attribute
            for attribute, value in vars(op).items()
            if isinstance(value, keras.layers.Layer)
        ]
        self.assertEqual(sorted(sublayers), expected)

    def test_configs_of_plain_layers_load(self):
        # Identity's config once held every keras.layers.Layer argument.
        config = {
            "name": "skip",
            "activity_regularizer": None,
            "trainable": True,
            "dtype": "float32",
            "autocast": True,
        }
        op = operations.Identity.from_config(config)
        self.assertEqual(op.name, "skip")
        self.assertEqual(op.compute_output_shape((2, 5, 5, 3)), (2, 5, 5, 3))

    def test_model_save_load_round_trip(self):
        inputs = keras.Input((8, 8, CHANNELS))
        branches = [
            OPS[name](CHANNELS, stride, affine)(inputs)
            for name in sorted(OPS)
            for stride, affine in ((2, True), (2, False))
        ]
        mid = keras.layers.Add()(branches)
        tail = [
            OPS[name](CHANNELS, 1, True)(mid)
            for name in ("sep_conv_3x3", "dil_conv_3x3", "skip_connect")
        ]
        model = keras.Model(inputs, keras.layers.Add()(tail))
        x = _inputs(8)
        model(x, training=True)  # Moves the BN statistics off their start.
        expected = model(x, training=False)
        path = os.path.join(self.get_temp_dir(), "ops.keras")
        model.save(path)
        loaded = keras.saving.load_model(path)
        self.assertAllClose(loaded(x, training=False), expected, atol=1e-6)
        self.assertEqual(
            [type(layer) for layer in loaded.layers],
            [type(layer) for layer in model.layers],
        )


class ValidationTest(tf.test.TestCase, parameterized.TestCase):
    def test_unknown_op(self):
        with self.assertRaisesRegex(
            ValueError, r"Unknown op 'sep_conv_9x9'; known ops: none, "
        ):
            operations.make_op("sep_conv_9x9", CHANNELS)

    def test_make_op(self):
        op = operations.make_op("sep_conv_5x5", CHANNELS, 2, affine=False)
        self.assertIsInstance(op, operations.SepConv)
        self.assertEqual((op.kernel_size, op.stride), (5, 2))

    @parameterized.parameters(0, 3, -1, True, 1.0)
    def test_bad_stride(self, stride):
        with self.assertRaisesRegex(ValueError, r"stride must be 1 or 2"):
            operations.make_op("sep_conv_3x3", CHANNELS, stride)
        with self.assertRaisesRegex(ValueError, r"Zero: stride must be 1"):
            operations.Zero(stride)

    @parameterized.parameters(0, -4, 2.0, None)
    def test_bad_channels(self, channels):
        with self.assertRaisesRegex(
            ValueError, r"SepConv: channels must be a positive integer"
        ):
            operations.SepConv(channels, 3)

    def test_bad_affine(self):
        with self.assertRaisesRegex(
            ValueError, r"DilConv: affine must be a bool; got 'no'"
        ):
            operations.DilConv(CHANNELS, 3, affine="no")

    def test_factorized_reduce_needs_even_channels(self):
        with self.assertRaisesRegex(
            ValueError, r"FactorizedReduce: channels must be even.*got 5"
        ):
            operations.FactorizedReduce(5)

    def test_bad_pooling_mode(self):
        with self.assertRaisesRegex(
            ValueError, r"mode must be 'max' or 'avg'; got 'min'"
        ):
            operations.Pooling("min")


if __name__ == "__main__":
    tf.test.main()
