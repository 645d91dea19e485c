"""The prior, the posterior and their KL terms, on cases worked by hand."""

import math

import numpy as np
import tensorflow as tf

from base_tf.inference import distributions as d


def _params(logits, mu, sigma):
    return d.VariationalParameters(
        tf.constant(logits, tf.float32),
        tf.constant(mu, tf.float32),
        d.rho_for_sigma(sigma),
    )


class DistributionsTest(tf.test.TestCase):
    def test_sigma_is_softplus_of_rho(self):
        rho = d.rho_for_sigma([0.01, 0.5, 3.0])
        self.assertAllClose(d.sigma(rho), [0.01, 0.5, 3.0], rtol=1e-5)
        self.assertAllClose(d.sigma(tf.constant(0.0)), math.log(2.0))

    def test_kl_weights_by_hand(self):
        # KL(N(1, 0.5^2) || N(0, 1)) = log(1 / 0.5) + (0.25 + 1) / 2 - 1/2.
        q = _params([[0.0]], [1.0, 1.0], [0.5, 0.5])
        p = _params([[0.0]], [0.0, 0.0], [1.0, 1.0])
        expected = 2 * (math.log(2.0) + 1.25 / 2 - 0.5)
        self.assertAllClose(d.kl_weights(q, p), expected, rtol=1e-5)

    def test_kl_architecture_by_hand(self):
        # KL(Cat(1/2, 1/2) || Cat(1/4, 3/4)).
        q = _params([[0.0, 0.0]], [0.0], [1.0])
        p = _params([[0.0, math.log(3.0)]], [0.0], [1.0])
        expected = 0.5 * math.log(0.5 / 0.25) + 0.5 * math.log(0.5 / 0.75)
        self.assertAllClose(d.kl_architecture(q, p), expected, rtol=1e-5)

    def test_kl_terms_vanish_at_the_prior(self):
        w = _params(
            np.random.default_rng(0).normal(size=[2, 3, 4]),
            [0.3, -1.0],
            [0.1, 2.0],
        )
        self.assertAllClose(d.kl_architecture(w, w), 0.0, atol=1e-6)
        self.assertAllClose(d.kl_weights(w, w), 0.0, atol=1e-6)

    def test_posterior_samples_are_reparameterised(self):
        params = _params(np.zeros([2, 3, 4]), np.zeros([5]), np.ones([5]))
        seed = tf.constant([4, 2])
        with tf.GradientTape() as tape:
            tape.watch(params)
            q_z, q_theta = d.posterior(params, temperature=0.5)
            z = q_z.sample(seed=seed)
            theta = q_theta.sample(seed=seed)
            loss = tf.reduce_sum(z[..., 0]) + tf.reduce_sum(theta)
        grads = tape.gradient(loss, params)
        self.assertEqual(z.shape, (2, 3, 4))
        self.assertAllClose(tf.reduce_sum(z, -1), tf.ones([2, 3]), atol=1e-5)
        for g in grads:
            self.assertGreater(float(tf.reduce_sum(tf.abs(g))), 0.0)
        # d theta / d mu = 1 for theta = mu + sigma * eps.
        self.assertAllClose(grads.mu, tf.ones([5]))

    def test_prior_has_the_meta_parameters(self):
        w = _params([[0.0, math.log(3.0)]], [1.0], [2.0])
        p_z, p_theta = d.prior(w)
        self.assertAllClose(p_z.probs_parameter(), [[0.25, 0.75]])
        self.assertAllClose(p_theta.stddev(), [2.0], rtol=1e-5)


if __name__ == "__main__":
    tf.test.main()
