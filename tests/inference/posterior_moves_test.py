"""The posterior moves where the data says it should, and only there.

On real images (MNIST), the inner loop runs from the same W on two tasks:
one whose labels are the digits, and one whose labels are all the same
class. With informative labels the features, so the architecture and the
weights' uncertainty, matter to the likelihood; with a constant label the
classifier's bias alone explains the data and nothing else should move.
Plain SGD on every part, so that how far a part moves measures its
gradient (Adam would normalise it away).
"""

import numpy as np
import tensorflow as tf
import tensorflow_datasets as tfds

from base_tf import inference
from base_tf.inference import statistics
from base_tf.supernet import Supernet
from tests import tfds_testing

STEPS, BATCH, SIZE, K = 12, 32, 12, 5


def _mnist(seed):
    images, labels = tfds.as_numpy(
        tfds.load(
            "mnist",
            split="train[:2000]",
            as_supervised=True,
            batch_size=-1,
            data_dir=tfds_testing.data_dir(),
        )
    )
    keep = labels < K
    images, labels = images[keep], labels[keep]
    rng = np.random.default_rng(seed)
    index = rng.choice(len(labels), size=(STEPS, BATCH), replace=False)
    x = tf.cast(images[index.ravel()], tf.float32) / 255.0
    x = tf.image.grayscale_to_rgb(tf.image.resize(x, [SIZE, SIZE]))
    x = tf.reshape(x, [STEPS, BATCH, SIZE, SIZE, 3])
    return x, tf.constant(labels[index], tf.int32)


class PosteriorMovesTest(tf.test.TestCase):
    def setUp(self):
        super().setUp()
        tfds_testing.require_datasets("mnist")

    def test_logits_and_sigma_move_with_informative_labels_only(self):
        net = Supernet("nas_bench_201", channels=8, num_cells=1, num_classes=K)
        w = inference.VariationalParameters(
            tf.zeros(net.z_shape),
            tf.constant(net.layout.initial_values(0)),
            tf.fill([net.num_parameters], float(inference.rho_for_sigma(0.02))),
        )
        images, digits = _mnist(seed=0)
        constant = tf.zeros_like(digits)
        config = inference.InnerLoopConfig(
            learning_rate=0.1, arch_learning_rate=1.0, rho_learning_rate=2.0
        )
        run = tf.function(inference.inner_loop, autograph=False)
        moved = {}
        for name, labels in (("digits", digits), ("constant", constant)):
            params, terms = run(
                net,
                w,
                images,
                labels,
                config,
                tf.constant(1.0),
                tf.constant(float(STEPS * BATCH)),
                tf.constant([0, 1]),
            )
            moved[name] = statistics.update_norms(params, w)
            moved[name]["nll"] = float(terms.nll[-1])
        # The digits were learned, the constant label trivially so.
        self.assertLess(moved["digits"]["nll"], np.log(K))
        self.assertLess(moved["constant"]["nll"], 0.5)
        # The architecture and sigma moved further on the informative task
        # (measured: logits 0.59 against 0.14, rho 0.28 against 0.16), though
        # the constant task moved the means further (1.14 against 0.91).
        for part, ratio in (("logits", 2.5), ("rho", 1.3)):
            self.assertGreater(
                moved["digits"][part], ratio * moved["constant"][part], moved
            )


if __name__ == "__main__":
    tf.test.main()
