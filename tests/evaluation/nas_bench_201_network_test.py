"""NAS-Bench-201's network: cell arithmetic, shapes, parameter count."""

import numpy as np
import tensorflow as tf
from absl.testing import parameterized

from base_tf import evaluation
from base_tf.search_space import NasBench201Genotype

ALL_CONV = (
    "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|"
    "+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|"
)
MIXED = (
    "|nor_conv_3x3~0|+|none~0|avg_pool_3x3~1|"
    "+|skip_connect~0|nor_conv_1x1~1|nor_conv_3x3~2|"
)


def cell_string(op):
    return f"|{op}~0|+|{op}~0|{op}~1|+|{op}~0|{op}~1|{op}~2|"


class NasBench201NetworkTest(tf.test.TestCase, parameterized.TestCase):
    def test_parameter_count_of_the_largest_network(self):
        # C=16, N=5, 10 classes: 1,531,546, NAS-Bench-201's 1.5315 MB.
        model = evaluation.build_network(
            NasBench201Genotype.from_string(ALL_CONV), 10, (32, 32, 3)
        )
        self.assertEqual(evaluation.count_parameters(model), 1_531_546)
        # Without any conv in the cells only the skeleton is left: stem,
        # reductions and head.
        skeleton = evaluation.build_network(
            NasBench201Genotype.from_string(cell_string("none")),
            10,
            (32, 32, 3),
        )
        self.assertEqual(
            evaluation.count_parameters(skeleton),
            464 + 14_464 + 57_600 + 128 + 650,
        )

    @parameterized.named_parameters(
        ("8x8", (8, 8, 3)),
        ("odd_9x9", (9, 9, 3)),
        ("16x12_grey", (16, 12, 1)),
    )
    def test_parsed_string_builds_and_runs(self, shape):
        genotype = NasBench201Genotype.from_string(MIXED)
        model = evaluation.build_network(
            genotype, 6, shape, channels=4, num_cells=1
        )
        x = np.random.default_rng(0).random((3, *shape), np.float32)
        logits = model(x)
        self.assertEqual(tuple(logits.shape), (3, 6))
        self.assertTrue(np.all(np.isfinite(logits)))
        height, width = shape[:2]
        for stage, channels in enumerate((4, 8, 16)):
            if stage:
                height, width = -(-height // 2), -(-width // 2)
            cell = model.get_layer(f"cell_{stage}_0")
            self.assertEqual(str(cell.genotype), MIXED)
            self.assertEqual(
                tuple(cell.output.shape), (None, height, width, channels)
            )

    def test_cell_sums_its_edges(self):
        x = tf.constant(
            np.random.default_rng(1).random((2, 5, 5, 3)), tf.float32
        )
        # x1 = x, x2 = x + x1, x3 = x + x1 + x2 = 4x.
        skip = evaluation.NasBench201Cell(cell_string("skip_connect"), 3)
        self.assertAllClose(skip(x), 4.0 * x)
        # "none" edges contribute zeros.
        none = evaluation.NasBench201Cell(cell_string("none"), 3)
        self.assertAllEqual(none(x), tf.zeros_like(x))
        # Only x -> x3 left: the output is x.
        one_edge = evaluation.NasBench201Cell(
            "|none~0|+|none~0|none~1|+|skip_connect~0|none~1|none~2|", 3
        )
        self.assertAllClose(one_edge(x), x)

    def test_residual_reduction(self):
        block = evaluation.ResidualReduction(6)
        x = tf.random.stateless_uniform((2, 9, 9, 3), (1, 2))
        self.assertEqual(tuple(block(x).shape), (2, 5, 5, 6))
        # conv3x3 (3->6) + BN, conv3x3 (6->6) + BN, shortcut 1x1 (3->6).
        self.assertEqual(
            sum(np.prod(w.shape) for w in block.trainable_weights),
            3 * 6 * 9 + 12 + 6 * 6 * 9 + 12 + 3 * 6,
        )
        clone = evaluation.ResidualReduction.from_config(block.get_config())
        self.assertEqual(clone.channels, 6)

    def test_auxiliary_head_is_refused(self):
        with self.assertRaisesRegex(ValueError, "auxiliary"):
            evaluation.build_network(
                NasBench201Genotype.from_string(MIXED),
                10,
                (8, 8, 3),
                channels=4,
                num_cells=1,
                auxiliary=True,
            )


if __name__ == "__main__":
    tf.test.main()
