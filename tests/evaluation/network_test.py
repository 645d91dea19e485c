"""build_network for any genotype: standardisation, saving, bad input."""

import os

import keras
import numpy as np
import tensorflow as tf
from absl.testing import parameterized

from base_tf import evaluation
from base_tf.search_space import CIFAR_TUNED, NasBench201Genotype

NB201 = NasBench201Genotype.from_string(
    "|nor_conv_3x3~0|+|none~0|avg_pool_3x3~1|"
    "+|skip_connect~0|nor_conv_1x1~1|nor_conv_3x3~2|"
)


class BuildNetworkTest(tf.test.TestCase, parameterized.TestCase):
    @parameterized.named_parameters(
        ("darts", CIFAR_TUNED, 3, True),
        ("nas_bench_201", NB201, 1, False),
    )
    def test_save_and_load_round_trip(self, genotype, num_cells, auxiliary):
        model = evaluation.build_network(
            genotype,
            5,
            (16, 16, 3),
            channels=4,
            num_cells=num_cells,
            auxiliary=auxiliary,
            mean=(0.1, 0.2, 0.3),
            std=(0.5, 0.4, 0.3),
            seed=0,
        )
        network = evaluation.inference_model(model)
        x = np.random.default_rng(0).random((4, 16, 16, 3), np.float32)
        # Moving statistics away from their initial values, so that the
        # round trip is seen to keep them.
        model(x, training=True)
        path = os.path.join(self.get_temp_dir(), "net.keras")
        network.save(path)
        loaded = keras.saving.load_model(path)  # No custom_objects.
        self.assertAllClose(loaded(x), network(x), atol=1e-5)
        self.assertEqual(
            evaluation.count_parameters(loaded),
            evaluation.count_parameters(model),
        )
        self.assertFalse(evaluation.has_auxiliary(loaded))

    def test_standardises_its_inputs(self):
        model = evaluation.build_network(
            NB201,
            3,
            (8, 8, 3),
            channels=4,
            num_cells=1,
            mean=(0.1, 0.2, 0.3),
            std=(0.5, 0.4, 0.2),
        )
        standardise = model.get_layer("standardise")
        x = np.full((1, 8, 8, 3), 0.5, np.float32)
        self.assertAllClose(
            standardise(x)[0, 0, 0], [0.4 / 0.5, 0.3 / 0.4, 0.2 / 0.2]
        )
        # CIFAR-10's constants by default (DARTS's).
        default = evaluation.build_network(
            NB201, 3, (8, 8, 3), channels=4, num_cells=1
        )
        mean = np.asarray(evaluation.CIFAR10_MEAN, np.float32)
        self.assertAllClose(
            default.get_layer("standardise")(mean[None, None, None]),
            np.zeros((1, 1, 1, 3)),
            atol=1e-6,
        )

    def test_default_sizes(self):
        model = evaluation.build_network(NB201, 10, (8, 8, 3))
        self.assertEqual(model.get_layer("cell_0_0").channels, 16)
        self.assertEqual(model.get_layer("cell_2_4").channels, 64)
        darts = evaluation.space_of(CIFAR_TUNED)
        self.assertEqual(darts.network_size, (40, 20))

    def test_bad_input(self):
        with self.assertRaisesRegex(ValueError, "DartsGenotype or a Nas"):
            evaluation.build_network("CIFAR_TUNED", 10)
        with self.assertRaisesRegex(ValueError, "at least 8x8"):
            evaluation.build_network(CIFAR_TUNED, 10, (7, 32, 3))
        with self.assertRaisesRegex(ValueError, "image_shape"):
            evaluation.build_network(CIFAR_TUNED, 10, (32, 32))
        with self.assertRaisesRegex(ValueError, "num_classes"):
            evaluation.build_network(CIFAR_TUNED, 0)
        with self.assertRaisesRegex(ValueError, "channels"):
            evaluation.build_network(CIFAR_TUNED, 10, channels=-4)
        with self.assertRaisesRegex(ValueError, "one value per image channel"):
            evaluation.build_network(
                NB201, 10, (8, 8, 1), mean=(0.5, 0.5), std=(0.2, 0.2)
            )
        with self.assertRaisesRegex(ValueError, "both mean and std"):
            evaluation.build_network(NB201, 10, (8, 8, 3), mean=(0, 0, 0))
        with self.assertRaisesRegex(ValueError, "std must be positive"):
            evaluation.build_network(
                NB201, 10, (8, 8, 3), mean=(0, 0, 0), std=(1, 0, 1)
            )


if __name__ == "__main__":
    tf.test.main()
