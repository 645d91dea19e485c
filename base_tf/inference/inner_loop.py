"""Optimization embedding: a task's posterior is T gradient steps on its ELBO.

Poster, "Variational Inference by Optimization Embedding" and BASE algorithm
lines 6-9: starting from the meta-parameters,

    (phi^0, psi^0) = W,
    (phi^t, psi^t) = (phi^{t-1}, psi^{t-1}) + eta * grad L_hat(phi^{t-1},
                                                             psi^{t-1}; W),

with fresh noise xi, eps and a fresh batch (x_t, y_t) at each step; after T
steps (phi^T, psi^T) parameterise q(z|D) and q(theta|D). The prior in L_hat
stays W throughout.

The T steps are one `tf.while_loop`: the graph holds the step once, so
tracing costs the same for any T, and nothing runs in Python per step. The
loop is functional: it takes W as tensors and returns new tensors; no
variable is read or written, so tasks can run side by side on replicas.
"""

from typing import NamedTuple

import tensorflow as tf

from base_tf.inference import distributions
from base_tf.inference.elbo import ElboTerms, ElboWeights, elbo

OPTIMIZERS = ("sgd", "adam")
SAMPLES = ("relaxed", "hard", "gdas")


class InnerLoopConfig(NamedTuple):
    """The inner loop's hyper-parameters (not confirmed by the paper; see
    configs/ for the values used and why).

    Attributes:
        learning_rate: eta for the weights' (mu, rho).
        arch_learning_rate: eta for the architecture logits phi.
        kl_architecture: beta_z, the weight of KL(q(z|D) || p(z)).
        kl_weights: beta_theta, the weight of KL(q(theta|D) || p(theta)).
        arch_optimizer: how phi steps: "sgd", phi += eta * g, or "adam",
            phi += eta * m_hat / (sqrt(v_hat) + eps) with Adam's moment
            estimates over the T steps (Kingma & Ba's defaults, beta1 0.9,
            beta2 0.999, eps 1e-8): a preconditioned step whose size is
            eta whatever the scale of the logits' gradient.
        rho_learning_rate: eta for rho, or None for `learning_rate`.
            d sigma / d rho = sigmoid(rho) is about sigma (0.02 at the
            default prior), so rho's gradient is ~50x smaller than mu's
            and a shared eta leaves sigma where it started.
        arch_sample: the z each step trains on: "relaxed", the
            Gumbel-softmax sample of q(z|D) (every op of an edge mixed by
            its weight), or "hard", that sample's one-hot argmax with the
            relaxed sample's gradient (straight-through, as GDAS does): the
            forward pass is one sampled architecture, so an op is judged
            by what it does alone, not by how it helps a mixture; or
            "gdas", the same one-hot sample whose gradient reaches only
            the sampled op of each edge (`straight_through`).
        arch_warmup: the fraction of the T steps, from the first, in which
            phi holds still and only the weights' (mu, rho) step: the
            logits' gradient judges each op by how its output moves the
            loss, which says little until the weights fit the task (early
            on, an op whose output is not yet useful loses to one that
            adds nothing). As PC-DARTS and others warm up their weights;
            it treats every op alike.
    """

    learning_rate: float = 0.05
    arch_learning_rate: float = 0.5
    kl_architecture: float = 1.0
    kl_weights: float = 1e-3
    arch_optimizer: str = "sgd"
    rho_learning_rate: float | None = None
    arch_sample: str = "relaxed"
    arch_warmup: float = 0.0


def inner_loop(
    supernet, w, images, labels, config, temperature, num_examples, seed
):
    """Runs the T steps of the optimization embedding from W.

    Args:
        supernet: the `Supernet`.
        w: the meta-parameters W, `VariationalParameters`.
        images: `[T, batch, h, w, c]`: the batch of each step.
        labels: `[T, batch]`.
        config: `InnerLoopConfig`.
        temperature: the Gumbel-softmax temperature of q(z|D) (a tensor,
            so that a schedule does not retrace).
        num_examples: N, the task's training examples (scales the KLs).
        seed: stateless seed, int tensor `[2]`; step t uses a seed folded
            from it and t.

    Returns:
        `(params, terms)`: the posterior's `VariationalParameters`
        (phi^T, psi^T), and the `ElboTerms` of each step stacked to `[T]`
        (each estimated before that step's update).
    """
    w = distributions.VariationalParameters(*map(tf.convert_to_tensor, w))
    weights = ElboWeights(
        config.kl_architecture,
        config.kl_weights,
        tf.cast(num_examples, tf.float32),
    )
    if config.arch_optimizer not in OPTIMIZERS:
        raise ValueError(
            f"arch_optimizer must be one of {OPTIMIZERS}, got "
            f"{config.arch_optimizer!r}."
        )
    if config.arch_sample not in SAMPLES:
        raise ValueError(
            f"arch_sample must be one of {SAMPLES}, got {config.arch_sample!r}."
        )
    steps = tf.shape(images)[0]
    rho_rate = (
        config.learning_rate
        if config.rho_learning_rate is None
        else config.rho_learning_rate
    )
    rates = distributions.VariationalParameters(
        config.arch_learning_rate, config.learning_rate, rho_rate
    )
    if not 0.0 <= config.arch_warmup < 1.0:
        raise ValueError(
            f"arch_warmup must be in [0, 1), got {config.arch_warmup!r}."
        )
    warmup_steps = tf.cast(
        tf.math.ceil(config.arch_warmup * tf.cast(steps, tf.float32)),
        tf.int32,
    )
    seed = tf.convert_to_tensor(seed)
    adam = config.arch_optimizer == "adam"

    def step(t, params, history, moments):
        with tf.GradientTape() as tape:
            tape.watch(params)
            terms = elbo(
                supernet,
                params,
                w,
                images[t],
                labels[t],
                temperature,
                weights,
                tf.random.experimental.stateless_fold_in(seed, t),
                hard=config.arch_sample != "relaxed",
                sampled_only=config.arch_sample == "gdas",
            )
        grads = tape.gradient(terms.elbo, params)
        if adam:
            direction, moments = _adam_direction(grads.logits, moments, t)
            grads = grads._replace(logits=direction)
        if config.arch_warmup:
            moving = tf.cast(t >= warmup_steps, grads.logits.dtype)
            grads = grads._replace(logits=moving * grads.logits)
        params = tf.nest.map_structure(
            lambda p, g, eta: p + eta * g, params, grads, rates
        )
        history = tf.nest.map_structure(
            lambda ta, value: ta.write(t, value), history, terms
        )
        return t + 1, params, history, moments

    history = ElboTerms(
        *[tf.TensorArray(tf.float32, size=steps) for _ in ElboTerms._fields]
    )
    moments = (tf.zeros_like(w.logits), tf.zeros_like(w.logits))
    _, params, history, _ = tf.while_loop(
        lambda t, *_: t < steps,
        step,
        (tf.constant(0), w, history, moments),
        parallel_iterations=1,
    )
    return params, tf.nest.map_structure(lambda ta: ta.stack(), history)


def _adam_direction(grad, moments, t, beta1=0.9, beta2=0.999, eps=1e-8):
    """Adam's step direction m_hat / (sqrt(v_hat) + eps) at step t (from 0).

    Written out because the loop is functional: Keras optimizers update
    variables, and `stateless_apply` is not supported on TensorFlow.

    Returns:
        `(direction, (m, v))`, the new moment estimates.
    """
    m, v = moments
    m = beta1 * m + (1 - beta1) * grad
    v = beta2 * v + (1 - beta2) * tf.square(grad)
    k = tf.cast(t + 1, grad.dtype)
    m_hat = m / (1 - beta1**k)
    v_hat = v / (1 - beta2**k)
    return m_hat / (tf.sqrt(v_hat) + eps), (m, v)


def posterior_mean_accuracy(
    supernet, params, images, labels, hard=False, sampled_only=False
):
    """Accuracy of the posterior's mean network on a batch.

    The mean network has theta = psi_mu and z = softmax(phi), the expected
    op weights: a deterministic summary of q(theta|D) q(z|D), used to report
    how well a task is fitted before and after the inner loop. With `hard`
    (for a posterior trained on hard samples, which never saw a mixture)
    z is instead q(z|D)'s mode, one op an edge: the architecture that would
    be derived. With `sampled_only` too (a posterior trained with GDAS's
    estimator, whose graph runs only sampled ops already) the other ops are
    not computed; otherwise the mixture runs at that one-hot z, the same
    values without the sampled-op graph's longer trace.
    """
    z = tf.nn.softmax(params.logits)
    if hard:
        z = tf.one_hot(tf.argmax(params.logits, -1), tf.shape(z)[-1])
    logits = supernet.apply(params.mu, z, images, one_hot=hard and sampled_only)
    return tf.reduce_mean(
        tf.cast(
            tf.equal(
                tf.argmax(logits, -1, tf.int32), tf.cast(labels, tf.int32)
            ),
            tf.float32,
        )
    )
