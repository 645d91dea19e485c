"""The ELBO L(phi, psi; W) of one task, estimated on one batch.

Poster, "Variational Inference by Optimization Embedding":

    L(phi_D, psi_D; W) = E_{x,y,xi,eps}[ -loss(f(x; theta_D(eps, psi),
                                                  z_D(xi, phi)), y) ]
                         - KL(q_phi(z|D) || p(z; alpha))
                         - KL(q_psi(theta|D) || p(theta; mu, sigma))

We estimate it per example: one reparameterised sample z = z_D(xi, phi)
(xi Gumbel noise) and theta = psi_mu + softplus(psi_rho) * eps, the batch's
mean cross-entropy, and the KL terms divided by the task's number of
training examples N (the ELBO of a dataset divided by N), each scaled by a
configurable weight (1 is the exact ELBO; smaller weights temper the prior,
as is common for Bayesian networks with far more weights than examples):

    L_hat = -mean_batch(loss) - (beta_z KL_z + beta_theta KL_theta) / N.
"""

from typing import NamedTuple

import tensorflow as tf
import tensorflow_probability as tfp

from base_tf.inference import distributions


class ElboTerms(NamedTuple):
    """One estimate of the ELBO and its parts (scalars)."""

    elbo: tf.Tensor
    nll: tf.Tensor  # mean cross-entropy of the batch
    kl_architecture: tf.Tensor  # KL(q(z|D) || p(z)), not divided by N
    kl_weights: tf.Tensor  # KL(q(theta|D) || p(theta)), not divided by N
    accuracy: tf.Tensor


class ElboWeights(NamedTuple):
    """The weights of the KL terms and N, the task's training examples."""

    kl_architecture: float = 1.0
    kl_weights: float = 1.0
    num_examples: float = 1.0


def elbo(
    supernet,
    params,
    w,
    images,
    labels,
    temperature,
    weights,
    seed,
    hard=False,
    sampled_only=False,
):
    """L_hat(phi, psi; W) on one batch, differentiable in `params`.

    Args:
        supernet: the `Supernet` f(x; theta, z).
        params: the posterior's `VariationalParameters` (phi, psi).
        w: the prior's `VariationalParameters` W.
        images: `[batch, h, w, c]` float32.
        labels: `[batch]` int labels.
        temperature: the Gumbel-softmax temperature.
        weights: `ElboWeights`.
        seed: a stateless seed, int tensor `[2]`: the noise (xi, eps).
        hard: make z one-hot (the relaxed sample's argmax) in the forward
            pass, with the relaxed sample's gradient (straight-through).
        sampled_only: with `hard`, only the sampled op of each edge passes
            the gradient on to the relaxed sample (see `straight_through`);
            the others are then not computed at all (`Supernet.apply`'s
            `one_hot`).

    Returns:
        `ElboTerms`.
    """
    seed_z, seed_theta = tfp.random.split_seed(seed, n=2)
    q_z, q_theta = distributions.posterior(params, temperature)
    z = q_z.sample(seed=seed_z)
    if hard:
        z = straight_through(z, sampled_only)
    theta = q_theta.sample(seed=seed_theta)
    logits = supernet.apply(theta, z, images, one_hot=hard and sampled_only)
    labels = tf.cast(labels, tf.int32)
    nll = tf.reduce_mean(
        tf.nn.sparse_softmax_cross_entropy_with_logits(labels, logits)
    )
    kl_z = distributions.kl_architecture(params, w)
    kl_theta = distributions.kl_weights(params, w)
    penalty = (
        weights.kl_architecture * kl_z + weights.kl_weights * kl_theta
    ) / weights.num_examples
    accuracy = tf.reduce_mean(
        tf.cast(tf.equal(tf.argmax(logits, -1, tf.int32), labels), tf.float32)
    )
    return ElboTerms(-nll - penalty, nll, kl_z, kl_theta, accuracy)


def straight_through(z, sampled_only=False):
    """The one-hot argmax of a relaxed sample `z`, with `z`'s gradient.

    Forward: one_hot(argmax z), a discrete architecture. Backward: the
    identity, so d/dphi flows through the relaxed sample (Bengio et al.'s
    straight-through estimator).

    With `sampled_only`, the gradient reaches `z` through the sampled op
    of each edge alone (as GDAS's estimator): d/dz_l is kept for the op
    the forward pass ran and zeroed for the others. Whole-mixture
    straight-through asks of every other op l how the loss would move if
    l's output were added to a network that never ran it. Where the
    sampled op is `none`, the node is zero; in a space whose pools end in
    a batch norm (`SearchSpace.pool_batch_norm`, DARTS), a pool reading it
    normalises over zero variance, and the gradient of every op of that
    edge is then ~100x every other edge's (`benchmarks/edge_gradients.py`):
    numerics, not data.
    """
    hard = tf.one_hot(tf.argmax(z, -1), tf.shape(z)[-1], dtype=z.dtype)
    if sampled_only:
        return hard + hard * (z - tf.stop_gradient(z))
    return z + tf.stop_gradient(hard - z)
