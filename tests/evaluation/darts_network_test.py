"""DARTS's evaluation network: shapes, parameter counts, aux head, drop-path."""

import time

import keras
import numpy as np
import tensorflow as tf
from absl.testing import parameterized

from base_tf import evaluation
from base_tf.evaluation import darts_network
from base_tf.search_space import CIFAR_TUNED, DARTS_V2, reduction_cells


def images(batch, shape, seed=0):
    return np.random.default_rng(seed).random((batch, *shape), np.float32)


class DartsNetworkTest(tf.test.TestCase, parameterized.TestCase):
    def test_parameter_counts_match_the_published_figures(self):
        # DARTS's counting at 10 classes and 32x32: BASE's CIFAR-10 cell at
        # C=40 is 3.145M (NOTES.md), DARTS V2 at C=36 3.349M (3,349,342,
        # what DARTS's train.py prints).
        start = time.perf_counter()
        cifar = evaluation.build_network(
            CIFAR_TUNED, 10, (32, 32, 3), channels=40, num_cells=20
        )
        darts = evaluation.build_network(
            DARTS_V2, 10, (32, 32, 3), channels=36, num_cells=20
        )
        seconds = time.perf_counter() - start
        print(f"built two 20-cell networks in {seconds:.1f} s")
        cifar_count = evaluation.count_parameters(cifar)
        self.assertEqual(round(cifar_count / 1e6, 3), 3.145, cifar_count)
        self.assertEqual(evaluation.count_parameters(darts), 3_349_342)
        # The auxiliary head is not counted, and training adds no weights
        # to the inference network.
        with_aux = evaluation.build_network(
            DARTS_V2, 10, (32, 32, 3), channels=36, num_cells=20, auxiliary=True
        )
        self.assertEqual(evaluation.count_parameters(with_aux), 3_349_342)
        self.assertGreater(
            sum(np.prod(w.shape) for w in with_aux.trainable_weights),
            3_349_342,
        )
        self.assertLess(seconds, 60.0)

    @parameterized.named_parameters(
        ("8x8_3_cells", (8, 8, 3), 3),
        ("16x16_5_cells", (16, 16, 3), 5),
        ("odd_9x9", (9, 9, 3), 3),
        ("wide_grey", (12, 20, 1), 4),
    )
    def test_shapes(self, shape, num_cells):
        channels = 4
        model = evaluation.build_network(
            CIFAR_TUNED, 7, shape, channels=channels, num_cells=num_cells
        )
        x = images(2, shape)
        self.assertEqual(tuple(model(x).shape), (2, 7))
        height, width = shape[:2]
        c = channels
        for i in range(num_cells):
            cell_type = "normal"
            if i in reduction_cells(num_cells):
                height, width, c = -(-height // 2), -(-width // 2), 2 * c
                cell_type = "reduce"
            cell = model.get_layer(f"cell_{i}_{cell_type}")
            self.assertIsInstance(cell, evaluation.DartsCell)
            self.assertEqual(
                tuple(cell.output.shape), (None, height, width, 4 * c)
            )

    def test_auxiliary_head_is_there_in_training_only(self):
        model = evaluation.build_network(
            CIFAR_TUNED, 5, (16, 16, 3), channels=4, num_cells=3, auxiliary=True
        )
        self.assertTrue(evaluation.has_auxiliary(model))
        out = model(images(3, (16, 16, 3)), training=True)
        self.assertEqual(sorted(out), ["aux_logits", "logits"])
        self.assertEqual(tuple(out["aux_logits"].shape), (3, 5))
        # After the second reduction cell (cell 2 of 3).
        aux = model.get_layer("aux_logits")
        self.assertIsInstance(aux, evaluation.AuxiliaryHead)
        self.assertIs(aux.input, model.get_layer("cell_2_reduce").output)
        inference = evaluation.inference_model(model)
        self.assertFalse(evaluation.has_auxiliary(inference))
        self.assertNotIn(
            "aux_logits", [layer.name for layer in inference.layers]
        )
        x = images(3, (16, 16, 3))
        self.assertAllClose(inference(x), model(x)["logits"])

    def test_auxiliary_geometry(self):
        # DARTS's head on the 8x8 map of 32x32 images, smaller maps below.
        self.assertEqual(
            darts_network.auxiliary_geometry(8, 8), ((5, 5), "valid")
        )
        self.assertEqual(
            darts_network.auxiliary_geometry(4, 4), ((4, 4), "same")
        )
        self.assertEqual(
            darts_network.auxiliary_geometry(2, 3), ((2, 3), "same")
        )
        self.assertEqual(
            darts_network.auxiliary_geometry(16, 16), ((5, 5), "valid")
        )

    def test_drop_path_drops_whole_examples(self):
        x = tf.ones((2000, 3, 3, 2))
        y = darts_network.drop_path(x, 0.25, seed=1).numpy()
        per_example = y.reshape(2000, -1)
        # Every example is all zeros or all 1 / (1 - rate).
        kept = np.all(np.isclose(per_example, 1 / 0.75), axis=1)
        dropped = np.all(per_example == 0.0, axis=1)
        self.assertTrue(np.all(kept | dropped))
        self.assertNear(dropped.mean(), 0.25, 0.04)
        self.assertNear(y.mean(), 1.0, 0.06)
        self.assertAllEqual(darts_network.drop_path(x, 0.0, seed=1), x)

    def test_drop_path_acts_in_training_only(self):
        model = evaluation.build_network(
            DARTS_V2, 4, (8, 8, 3), channels=4, num_cells=3, seed=0
        )
        x = images(6, (8, 8, 3))
        start = model.get_weights()

        def run(rate, training):
            # From the same weights, BN statistics and seeds every time.
            model.set_weights(start)
            self.assertEqual(evaluation.set_drop_path_rate(model, rate), 3)
            return model(x, training=training)

        self.assertAllClose(run(0.5, False), run(0.0, False))
        self.assertAllClose(run(0.0, True), run(0.0, True))
        self.assertNotAllClose(run(0.5, True), run(0.0, True))

    def test_drop_path_leaves_the_identity_alone(self):
        # A cell of identities only: drop-path must not touch it.
        pairs = [("skip_connect", 0), ("skip_connect", 1)] * 4
        cell = evaluation.DartsCell(pairs, (2, 3, 4, 5), 4, seed=0)
        s = tf.constant(images(5, (4, 4, 4)))
        expected = cell([s, s], training=True)
        cell.drop_path_rate.assign(0.9)
        self.assertAllClose(cell([s, s], training=True), expected)
        # One pooling op among them is dropped for some examples.
        pairs[0] = ("max_pool_3x3", 0)
        cell = evaluation.DartsCell(pairs, (2, 3, 4, 5), 4, seed=0)
        expected = cell([s, s], training=True)
        cell.drop_path_rate.assign(0.9)
        self.assertNotAllClose(cell([s, s], training=True), expected)

    def test_drop_path_schedule_ramps_linearly(self):
        # DARTS: rate = drop_path * epoch / epochs at each epoch's start.
        model = evaluation.build_network(
            CIFAR_TUNED, 3, (8, 8, 3), channels=2, num_cells=2
        )
        schedule = evaluation.DropPathSchedule(0.2, 4)
        schedule.set_model(model)
        rates = []
        for epoch in range(4):
            schedule.on_epoch_begin(epoch)
            rates.append(float(model.get_layer("cell_1_reduce").drop_path_rate))
        self.assertAllClose(rates, [0.0, 0.05, 0.1, 0.15])
        with self.assertRaisesRegex(ValueError, r"\[0, 1\)"):
            evaluation.DropPathSchedule(1.0, 4)

    def test_cell_round_trips_through_its_config(self):
        cell = evaluation.DartsCell(
            CIFAR_TUNED.reduce, (2, 3, 4, 5), 6, True, True, seed=3
        )
        clone = evaluation.DartsCell.from_config(cell.get_config())
        self.assertEqual(clone.get_config(), cell.get_config())
        self.assertEqual(
            clone.compute_output_shape([(None, 16, 16, 8), (None, 8, 8, 8)]),
            (None, 4, 4, 24),
        )
        with self.assertRaisesRegex(ValueError, "unknown op"):
            evaluation.DartsCell([("conv_9x9", 0)] * 8, (2, 3, 4, 5), 4)


if __name__ == "__main__":
    keras.utils.set_random_seed(0)
    tf.test.main()
