"""`BayesianSupernet`: the supernet and its meta-parameters W as a Keras model.

W = (alpha, mu, rho) are the model's three weights (see
`inference.distributions`): the prior p(z; alpha) p(theta; mu, softplus(rho))
and the starting point of every task's posterior. The model's `call` is the
mean network of the prior (theta = mu, z = softmax(alpha)); BASE's inner
loop and meta-update work on `meta_parameters` as plain tensors and write
the result back with `assign_meta_parameters`.

Initial prior (the paper leaves it open; our choice): alpha = 0 (every op
equally likely), mu He-normal (std sqrt(2 / fan_in) per weight tensor, seeded),
sigma = `prior_sigma` for every weight (0.02 by default: small next to the
He scale of a 3x3x16 kernel, ~0.1, so sampled networks stay trainable).

A prior for another number of classes K' (`with_num_classes`, used when a
dataset is adapted to with K' != K classes): every part of W but the
classifier is kept; each of the K' classes' classifier weights starts from
the prior's classifier averaged over its K meta-trained classes (the mean
of mu, and the mean of sigma, column by column; the bias alike). Tasks
relabel their classes at random, so no meta-trained output stands for a
class of its own: the K columns are K estimates of one exchangeable
class prior, and their mean is that prior's best estimate. Equal columns
do not stay equal: each class's cross-entropy gradient differs by its
labels, and the weights' noise differs per column.

Saved as a `.keras` file (`model.save`, `keras.models.load_model`), the
model comes back with the same W and the same outputs: its config rebuilds
the supernet and the file holds W. The config also carries
`meta_training`, the record of the run that learned W
(`meta_training_run.save_prior_keras`), so that the one file is a prior
adaptation can start from.
"""

import json

import keras
import tensorflow as tf

from base_tf.inference import VariationalParameters, rho_for_sigma, sigma
from base_tf.supernet import Supernet

CLASSIFIER = ("classifier/kernel", "classifier/bias")


@keras.saving.register_keras_serializable(package="base_tf")
class BayesianSupernet(keras.Model):
    """The supernet over a search space, with W = (alpha, mu, rho).

    Args:
        space: "darts" or "nas_bench_201".
        channels, num_cells, num_classes, image_channels, stem_multiplier:
            the supernet's shape (see `supernet.Supernet`).
        prior_sigma: the initial sigma of p(theta).
        seed: seeds the initial mu.
        meta_training: None, or a JSON-ready dict of the meta-training run
            that learned W (its config and settings, see
            `meta_training_run`); it changes nothing here, it travels with
            the model's config into a `.keras` file.
        **kwargs: passed to `keras.Model`.
    """

    def __init__(
        self,
        space="darts",
        channels=16,
        num_cells=8,
        num_classes=10,
        image_channels=3,
        stem_multiplier=3,
        prior_sigma=0.02,
        seed=0,
        meta_training=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if not prior_sigma > 0:
            raise ValueError(f"prior_sigma must be > 0, got {prior_sigma!r}.")
        self.supernet = Supernet(
            space,
            channels=channels,
            num_cells=num_cells,
            num_classes=num_classes,
            image_channels=image_channels,
            stem_multiplier=stem_multiplier,
        )
        self.prior_sigma = float(prior_sigma)
        self.seed = int(seed)
        # As JSON text: Keras would track a dict attribute as if it could
        # hold layers, and the text keeps the record as given (and refuses
        # at once what a `.keras` file could not hold).
        self._meta_training = json.dumps(meta_training, sort_keys=True)
        size = self.supernet.num_parameters
        self.alpha = self.add_weight(
            shape=self.supernet.z_shape, initializer="zeros", name="alpha"
        )
        self.mu = self.add_weight(shape=(size,), initializer="zeros", name="mu")
        self.rho = self.add_weight(
            shape=(size,),
            initializer=keras.initializers.Constant(
                float(rho_for_sigma(self.prior_sigma))
            ),
            name="rho",
        )
        self.mu.assign(self.supernet.layout.initial_values(self.seed))
        self.built = True

    @property
    def space(self):
        return self.supernet.space

    @property
    def meta_training(self):
        """The `meta_training` record given (a copy), or None."""
        return json.loads(self._meta_training)

    @property
    def meta_parameters(self):
        """W as `VariationalParameters` of tensors (a snapshot)."""
        return VariationalParameters(
            tf.convert_to_tensor(self.alpha),
            tf.convert_to_tensor(self.mu),
            tf.convert_to_tensor(self.rho),
        )

    def assign_meta_parameters(self, w):
        """Sets W from `VariationalParameters`."""
        self.alpha.assign(w.logits)
        self.mu.assign(w.mu)
        self.rho.assign(w.rho)

    def with_num_classes(self, num_classes):
        """This prior with a classifier of `num_classes` outputs.

        The same W but the classifier, whose every output starts from the
        mean of this prior's outputs (see the module doc). `self` when
        `num_classes` is this prior's K.

        Args:
            num_classes: K', an int >= 1.

        Returns:
            A `BayesianSupernet`.
        """
        net = self.supernet
        if num_classes == net.num_classes:
            return self
        model = BayesianSupernet(
            net.space.name,
            channels=net.channels,
            num_cells=net.num_cells,
            num_classes=num_classes,
            image_channels=net.image_channels,
            stem_multiplier=net.stem_multiplier,
            prior_sigma=self.prior_sigma,
            seed=self.seed,
        )
        w = _classes_at_their_mean(
            self.meta_parameters, net.layout, model.supernet.layout
        )
        model.alpha.assign(w.logits)
        model.mu.assign(w.mu)
        model.rho.assign(w.rho)
        return model

    def exchangeable(self, w):
        """`w` (`VariationalParameters` of this supernet) with every class's
        classifier weights at the classes' mean (mu, and sigma through rho;
        the bias alike): the prior of exchangeable classes (module doc)."""
        layout = self.supernet.layout
        return _classes_at_their_mean(w, layout, layout)

    def call(self, images):
        """The prior mean network's logits: theta = mu, z = softmax(alpha)."""
        return self.supernet.apply(
            tf.convert_to_tensor(self.mu),
            tf.nn.softmax(tf.convert_to_tensor(self.alpha)),
            images,
        )

    def get_config(self):
        net = self.supernet
        return {
            **super().get_config(),
            "space": net.space.name,
            "channels": net.channels,
            "num_cells": net.num_cells,
            "num_classes": net.num_classes,
            "image_channels": net.image_channels,
            "stem_multiplier": net.stem_multiplier,
            "prior_sigma": self.prior_sigma,
            "seed": self.seed,
            "meta_training": self.meta_training,
        }


def _classes_at_their_mean(w, layout, new_layout):
    """`w` (flat in `layout`) with each `CLASSIFIER` tensor's columns (its
    last axis, the classes) at their mean, broadcast to `new_layout`'s
    number of classes and flattened in it."""
    mu = layout.unflatten(tf.convert_to_tensor(w.mu))
    rho = layout.unflatten(tf.convert_to_tensor(w.rho))
    shapes = {spec.name: spec.shape for spec in new_layout.specs}
    for name in CLASSIFIER:
        shape = shapes[name]
        mean_mu = tf.reduce_mean(mu[name], -1, keepdims=True)
        mean_sigma = tf.reduce_mean(sigma(rho[name]), -1, keepdims=True)
        mu[name] = tf.broadcast_to(mean_mu, shape)
        rho[name] = tf.broadcast_to(rho_for_sigma(mean_sigma), shape)
    return VariationalParameters(
        tf.convert_to_tensor(w.logits),
        new_layout.flatten(mu),
        new_layout.flatten(rho),
    )
