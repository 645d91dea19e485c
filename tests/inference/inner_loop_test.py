"""The optimization embedding: T steps of gradient ascent on the ELBO."""

import numpy as np
import tensorflow as tf
from absl.testing import parameterized

from base_tf import inference
from base_tf.supernet import Supernet


def _setup(space="nas_bench_201", steps=2, batch=4, size=8):
    net = Supernet(space, channels=4, num_cells=1, num_classes=3)
    rng = np.random.default_rng(0)
    w = inference.VariationalParameters(
        tf.constant(rng.normal(size=net.z_shape), tf.float32),
        tf.constant(net.layout.initial_values(0)),
        tf.fill([net.num_parameters], float(inference.rho_for_sigma(0.01))),
    )
    images = tf.constant(
        rng.uniform(size=[steps, batch, size, size, 3]), tf.float32
    )
    labels = tf.constant(rng.integers(0, 3, size=[steps, batch]), tf.int32)
    return net, w, images, labels


class InnerLoopTest(tf.test.TestCase, parameterized.TestCase):
    @parameterized.parameters(
        ("nas_bench_201", "sgd", None, "relaxed"),
        ("darts", "sgd", None, "relaxed"),
        ("nas_bench_201", "adam", 2.0, "relaxed"),
        ("nas_bench_201", "adam", None, "hard"),
        ("darts", "sgd", 0.0, "hard"),
        ("darts", "sgd", None, "gdas"),
    )
    def test_equals_manual_gradient_steps(
        self, space, optimizer, rho_rate, sample
    ):
        net, w, images, labels = _setup(space)
        config = inference.InnerLoopConfig(
            learning_rate=0.1,
            arch_learning_rate=0.7,
            kl_architecture=1.0,
            kl_weights=0.5,
            arch_optimizer=optimizer,
            rho_learning_rate=rho_rate,
            arch_sample=sample,
        )
        seed = tf.constant([7, 11])
        temperature = tf.constant(0.8)
        adapted, terms = tf.function(inference.inner_loop, autograph=False)(
            net, w, images, labels, config, temperature, 20, seed
        )
        # The same two steps by hand, eagerly.
        params = w
        weights = inference.ElboWeights(1.0, 0.5, 20.0)
        manual_elbos = []
        m = v = np.zeros(w.logits.shape)  # Adam's moments, by the paper
        for t in range(2):
            with tf.GradientTape() as tape:
                tape.watch(params)
                step_terms = inference.elbo(
                    net,
                    params,
                    w,
                    images[t],
                    labels[t],
                    temperature,
                    weights,
                    tf.random.experimental.stateless_fold_in(seed, t),
                    hard=sample != "relaxed",
                    sampled_only=sample == "gdas",
                )
            g = tape.gradient(step_terms.elbo, params)
            manual_elbos.append(float(step_terms.elbo))
            direction = g.logits.numpy()
            if optimizer == "adam":
                m = 0.9 * m + 0.1 * direction
                v = 0.999 * v + 0.001 * direction**2
                m_hat, v_hat = (
                    m / (1 - 0.9 ** (t + 1)),
                    v / (1 - 0.999 ** (t + 1)),
                )
                direction = m_hat / (np.sqrt(v_hat) + 1e-8)
            params = inference.VariationalParameters(
                params.logits + 0.7 * direction,
                params.mu + 0.1 * g.mu,
                params.rho + (0.1 if rho_rate is None else rho_rate) * g.rho,
            )
        self.assertAllClose(terms.elbo, manual_elbos, rtol=1e-4, atol=1e-5)
        # Adam divides each logit's gradient by its own size, so graph and
        # eager float32 rounding of a small gradient (relative ~1e-4) shows
        # in the step at full scale: 3e-4 of a 0.7 step was measured on the
        # NAS-Bench-201 case, with oneDNN on and off. 1e-3 is 0.15% of a step.
        logits_atol = 1e-3 if optimizer == "adam" else 1e-5
        for a, b, atol in zip(
            adapted, params, (logits_atol, 1e-5, 1e-5), strict=True
        ):
            self.assertAllClose(a, b, rtol=1e-4, atol=atol)
        # The first step starts at the prior: both KL terms are zero there.
        self.assertAllClose(terms.kl_architecture[0], 0.0, atol=1e-5)
        self.assertAllClose(terms.kl_weights[0], 0.0, atol=1e-3)
        self.assertGreater(float(terms.kl_architecture[1]), 0.0)
        # W itself is untouched (the loop is functional).
        self.assertNotAllClose(adapted.logits, w.logits)
        if rho_rate == 0.0:  # sigma held at the prior's
            self.assertAllEqual(adapted.rho, w.rho)

    def test_hard_samples_are_one_hot_with_the_relaxed_gradient(self):
        logits = tf.constant([[0.3, -1.0, 2.0], [0.0, 0.1, -0.2]])
        cost = tf.constant([1.0, 2.0, 3.0])
        with tf.GradientTape(persistent=True) as tape:
            tape.watch(logits)
            z = tf.nn.softmax(logits)
            hard = inference.straight_through(z)
            loss_hard = tf.reduce_sum(hard * cost)
            loss_soft = tf.reduce_sum(z * cost)
        self.assertAllEqual(hard, [[0.0, 0.0, 1.0], [0.0, 1.0, 0.0]])
        self.assertAllClose(
            tape.gradient(loss_hard, logits), tape.gradient(loss_soft, logits)
        )

    def test_gdas_samples_pass_the_gradient_through_the_sampled_op(self):
        logits = tf.constant([[0.3, -1.0, 2.0], [0.0, 0.1, -0.2]])
        cost = tf.constant([1.0, 2.0, 3.0])
        with tf.GradientTape(persistent=True) as tape:
            tape.watch(logits)
            z = tf.nn.softmax(logits)
            hard = inference.straight_through(z, sampled_only=True)
            loss = tf.reduce_sum(hard * cost)
        self.assertAllEqual(hard, [[0.0, 0.0, 1.0], [0.0, 1.0, 0.0]])
        # d loss / d z: the sampled op's cost, zero for the others.
        self.assertAllClose(
            tape.gradient(loss, z), [[0.0, 0.0, 3.0], [0.0, 2.0, 0.0]]
        )

    def test_arch_warmup_holds_the_logits_while_the_weights_step(self):
        net, w, images, labels = _setup(steps=2)
        run = tf.function(inference.inner_loop, autograph=False)

        def adapt(arch_warmup, arch_learning_rate=0.7, steps=2):
            config = inference.InnerLoopConfig(
                learning_rate=0.1,
                arch_learning_rate=arch_learning_rate,
                arch_sample="hard",
                arch_warmup=arch_warmup,
            )
            return run(
                net,
                w,
                images[:steps],
                labels[:steps],
                config,
                tf.constant(0.8),
                20,
                tf.constant([3, 5]),
            )[0]

        # One step of one warm-up step: phi stays W's; the weights move.
        one = adapt(0.5, steps=1)
        self.assertAllEqual(one.logits, w.logits)
        self.assertNotAllClose(one.mu, w.mu)
        # Two steps, the first a warm-up one: the weights follow the path
        # of a loop whose phi never moves (phi's last step does not reach
        # them), and phi takes one step, not two.
        warm, frozen, free = adapt(0.5), adapt(0.5, 0.0), adapt(0.0)
        self.assertAllClose(warm.mu, frozen.mu, rtol=1e-5, atol=1e-6)
        self.assertAllEqual(frozen.logits, w.logits)
        self.assertNotAllClose(warm.logits, w.logits)
        self.assertNotAllClose(warm.logits, free.logits)
        with self.assertRaisesRegex(ValueError, "arch_warmup"):
            adapt(1.0)

    def test_steps_raise_the_elbo_on_a_fixed_batch(self):
        net, w, images, labels = _setup(steps=8)
        images = tf.repeat(images[:1], 8, axis=0)
        labels = tf.repeat(labels[:1], 8, axis=0)
        config = inference.InnerLoopConfig(learning_rate=0.05, kl_weights=1e-3)
        adapted, terms = tf.function(inference.inner_loop)(
            net,
            w,
            images,
            labels,
            config,
            tf.constant(1.0),
            4,
            tf.constant([1, 2]),
        )
        self.assertLess(float(terms.nll[-1]), float(terms.nll[0]))
        before = inference.posterior_mean_accuracy(net, w, images[0], labels[0])
        after = inference.posterior_mean_accuracy(
            net, adapted, images[0], labels[0]
        )
        self.assertGreaterEqual(float(after), float(before))

    def test_a_learning_rate_far_too_high_is_caught(self):
        net, w, images, labels = _setup(steps=3)
        config = inference.InnerLoopConfig(
            learning_rate=1e30, arch_learning_rate=1e30
        )
        adapted, _ = inference.inner_loop(
            net,
            w,
            images,
            labels,
            config,
            tf.constant(1.0),
            4,
            tf.constant([1, 2]),
        )
        delta, finite = inference.task_delta(adapted, w)
        self.assertEqual(float(finite), 0.0)
        for d in delta:
            self.assertAllEqual(d, tf.zeros_like(d))


if __name__ == "__main__":
    tf.test.main()
