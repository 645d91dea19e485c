"""`MixedEdge`, the paper's equation as a Keras layer, in a model of one's
own: summary, fit on real images, .keras round trip, its distribution."""

import os

import keras
import numpy as np
import tensorflow as tf
import tensorflow_datasets as tfds
import tensorflow_probability as tfp

from base_tf.supernet.mixed_edge import MixedEdge
from tests import tfds_testing


def _mnist(classes=3, per_class=100):
    """The first `per_class` test images of each of MNIST's first
    `classes` digits, 8x8 in [0, 1]."""
    ds = tfds.load(
        "mnist",
        split="test",
        as_supervised=True,
        data_dir=tfds_testing.data_dir(),
    )
    images, labels = [], []
    for image, label in tfds.as_numpy(ds):
        if label < classes and labels.count(label) < per_class:
            images.append(image)
            labels.append(label)
        if len(labels) == classes * per_class:
            break
    images = tf.image.resize(np.stack(images).astype("float32") / 255, (8, 8))
    return images.numpy(), np.array(labels)


def _model():
    return keras.Sequential(
        [
            keras.Input((8, 8, 1)),
            keras.layers.Conv2D(8, 3, padding="same"),
            MixedEdge("nas_bench_201", 8, seed=0, name="cell_edge"),
            MixedEdge("darts", 8, stride=2, seed=1, name="reduce_edge"),
            keras.layers.GlobalAveragePooling2D(),
            keras.layers.Dense(3),
        ]
    )


class MixedEdgeTest(tf.test.TestCase):
    def test_fit_trains_weights_and_alpha_and_the_model_saves(self):
        tfds_testing.require_datasets("mnist")
        keras.utils.set_random_seed(0)
        images, labels = _mnist()
        model = _model()
        lines = []
        model.summary(print_fn=lambda line, **_: lines.append(line))
        summary = "\n".join(lines)
        # One row an edge, with its ops' weights and its 5 or 8 logits:
        # NAS-Bench-201's 1x1 and 3x3 convs (8*8 + 9*8*8) with their
        # batch norms' statistics (2 * 2 * 8), and alpha.
        self.assertIn("cell_edge (MixedEdge)", summary)
        self.assertIn(f"{64 + 576 + 32 + 5:,}", summary)
        self.assertIn("reduce_edge (MixedEdge)", summary)
        edge = model.get_layer("cell_edge")
        alpha = edge.alpha.numpy().copy()
        model.compile(
            keras.optimizers.SGD(0.1, momentum=0.9),
            keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            metrics=["accuracy"],
        )
        history = model.fit(
            images, labels, batch_size=32, epochs=5, verbose=0
        ).history
        # It learns the 3 digits (chance 1/3) ...
        self.assertLess(history["loss"][-1], 0.7 * history["loss"][0])
        self.assertGreater(history["accuracy"][-1], 0.7)
        # ... and the architecture logits learned with the weights.
        self.assertGreater(np.abs(edge.alpha.numpy() - alpha).max(), 1e-4)
        path = os.path.join(self.get_temp_dir(), "edges.keras")
        model.save(path)
        loaded = keras.models.load_model(path)
        self.assertAllClose(
            loaded.predict(images, verbose=0), model.predict(images, verbose=0)
        )
        self.assertAllEqual(
            loaded.get_layer("cell_edge").alpha.numpy(), edge.alpha.numpy()
        )

    def test_z_given_or_expected_and_the_prior(self):
        edge = MixedEdge("nas_bench_201", 4, temperature=0.5)
        x = tf.random.stateless_normal([2, 6, 6, 4], seed=[0, 1])
        edge(x)
        edge.alpha.assign([0.0, 1.0, -1.0, 2.0, 0.5])
        prior = edge.prior()
        self.assertIsInstance(prior, tfp.distributions.RelaxedOneHotCategorical)
        self.assertAllClose(prior.temperature, 0.5)
        # At inference z is softmax(alpha): the weighted sum of the ops.
        z = tf.nn.softmax(edge.alpha)
        self.assertAllClose(edge(x), edge(x, z=z))
        # A one-hot z is that op alone (index 1: skip_connect, the input).
        self.assertAllClose(edge(x, z=tf.one_hot(1, 5)), x)
