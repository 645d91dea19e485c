"""The numbers that show what a prior or posterior has learned."""

import math

import numpy as np
import tensorflow as tf

from base_tf import inference
from base_tf.inference import statistics


def _params(logits, mu, sigma):
    return inference.VariationalParameters(
        tf.constant(logits, tf.float32),
        tf.constant(mu, tf.float32),
        inference.rho_for_sigma(tf.constant(sigma, tf.float32)),
    )


class StatisticsTest(tf.test.TestCase):
    def test_relative_entropy_is_one_when_uniform_zero_when_certain(self):
        logits = np.zeros([2, 3, 5], np.float32)
        logits[1, 2] = [40.0, 0.0, 0.0, 0.0, 0.0]
        result = statistics.relative_entropy(logits)
        self.assertEqual(result.shape, [2, 3])
        self.assertAllClose(result[0], np.ones(3))
        self.assertAllClose(result[1, 2], 0.0, atol=1e-6)
        # Two of five ops equally likely: log(2) / log(5).
        self.assertAllClose(
            statistics.relative_entropy([[0.0, 0.0, -80, -80, -80]]),
            [math.log(2) / math.log(5)],
            atol=1e-6,
        )

    def test_summary_of_a_posterior_against_its_prior(self):
        prior = _params(np.zeros([1, 2, 4]), [0.0, 1.0, 2.0], [0.1] * 3)
        posterior = _params(
            [[[1.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0]]],
            [0.0, 1.0, 2.5],
            [0.1, 0.05, 0.2],
        )
        values = statistics.summary(posterior, reference=prior)
        self.assertAllClose(values["sigma_mean"], 0.35 / 3, atol=1e-6)
        self.assertAllClose(values["sigma_min"], 0.05, atol=1e-6)
        self.assertAllClose(values["sigma_max"], 0.2, atol=1e-6)
        self.assertLess(values["relative_entropy"], 1.0)
        self.assertAllClose(
            values["kl_architecture"],
            float(inference.kl_architecture(posterior, prior)),
        )
        # KL of N(2.5, 0.2) from N(2, 0.1) and of N(1, 0.05) from N(1, 0.1).
        expected = (math.log(0.1 / 0.2) + (0.04 + 0.25) / 0.02 - 0.5) + (
            math.log(0.1 / 0.05) + 0.0025 / 0.02 - 0.5
        )
        self.assertAllClose(values["kl_weights"], expected, rtol=1e-4)
        self.assertNotIn("kl_weights", statistics.summary(prior))

    def test_update_norms(self):
        old = _params(np.zeros([1, 1, 3]), [0.0, 0.0], [0.1, 0.1])
        new = inference.VariationalParameters(
            old.logits + [[[3.0, 4.0, 0.0]]], old.mu + [1.0, 0.0], old.rho
        )
        norms = statistics.update_norms(new, old)
        self.assertEqual(list(norms), ["logits", "mu", "rho"])
        self.assertAllClose(list(norms.values()), [5.0, 1.0, 0.0])
        line = statistics.format_summary(statistics.summary(new, old), norms)
        self.assertIn("|update| logits 5, mu 1, rho 0", line)


if __name__ == "__main__":
    tf.test.main()
