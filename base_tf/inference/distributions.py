"""The prior p(z; alpha) p(theta; mu, sigma) and posterior q(z|D) q(theta|D).

BASE's probabilistic model (poster, "Bayesian View of Architecture Search"):

    theta ~ N(mu, sigma^2),    z_{i,k} ~ Categorical(alpha_{i,k}),
    y ~ p(y | x; theta, z)  proportional to  exp(-loss(f(x; theta, z), y)).

The prior's parameters W = (alpha, mu, sigma) are shared by all tasks: they
are the meta-parameters. A task's posterior has the same form,

    q_phi(z|D) = RelaxedOneHotCategorical(temperature, logits=phi),
    q_psi(theta|D) = N(psi_mu, psi_sigma^2)     (mean-field),

and starts at the prior: (phi^0, psi^0) = W (see `inner_loop`). Both are
described by the same `VariationalParameters` (logits, mu, rho), with
sigma = softplus(rho) > 0, so that W, every posterior and every meta-update
are one structure of three tensors.

Which weights are Bayesian: all of theta, every convolution kernel and the
classifier (the supernet's batch norms have no parameters). A mean-field
Gaussian over one flat vector costs two vectors and three ops to sample.
"""

from typing import NamedTuple

import tensorflow as tf
import tensorflow_probability as tfp

tfd = tfp.distributions


class VariationalParameters(NamedTuple):
    """Parameters of the prior (W) or of a task's posterior (phi, psi).

    Attributes:
        logits: architecture logits, `[cell types, edges, ops]`: alpha for
            the prior, phi for a posterior.
        mu: the weights' means, `[num_parameters]`.
        rho: the weights' scales before softplus: sigma = softplus(rho).
    """

    logits: tf.Tensor
    mu: tf.Tensor
    rho: tf.Tensor


def sigma(rho):
    """sigma = softplus(rho): positive, and linear for large rho."""
    return tf.math.softplus(rho)


def rho_for_sigma(value):
    """The rho whose softplus is `value` (> 0): log(exp(value) - 1)."""
    value = tf.convert_to_tensor(value, tf.float32)
    return tfp.math.softplus_inverse(value)


def prior(w):
    """p(z; alpha) and p(theta; mu, sigma) of the meta-parameters `w`.

    Returns:
        `(Categorical(logits=alpha), Normal(mu, softplus(rho)))`, with batch
        shapes `[cell types, edges]` and `[num_parameters]`.
    """
    return (
        tfd.Categorical(logits=w.logits),
        tfd.Normal(w.mu, sigma(w.rho)),
    )


def posterior(params, temperature):
    """q(z|D) and q(theta|D) of a task's variational parameters.

    Args:
        params: `VariationalParameters` (phi, psi).
        temperature: the Gumbel-softmax temperature, > 0.

    Returns:
        `(RelaxedOneHotCategorical(temperature, logits=phi),
        Normal(psi_mu, softplus(psi_rho)))`: reparameterised samples of both
        are differentiable in (phi, psi).
    """
    return (
        tfd.RelaxedOneHotCategorical(temperature, logits=params.logits),
        tfd.Normal(params.mu, sigma(params.rho)),
    )


def kl_architecture(params, w):
    """KL(q_phi(z|D) || p(z; alpha)), summed over the choices.

    The KL between two relaxed one-hot categoricals has no closed form (and
    the prior is a plain Categorical). We use the KL between the underlying
    categoricals, KL(Cat(phi) || Cat(alpha)), TFP's registered closed form:
    it is exact for the discrete architecture the relaxation stands for, is
    zero when phi = alpha, and needs no sampling.
    """
    return tf.reduce_sum(
        tfd.kl_divergence(
            tfd.Categorical(logits=params.logits),
            tfd.Categorical(logits=w.logits),
        )
    )


def kl_weights(params, w):
    """KL(q_psi(theta|D) || p(theta; mu, sigma)), summed over the weights.

    TFP's closed form for two Normals:
    log(s_p / s_q) + (s_q^2 + (m_q - m_p)^2) / (2 s_p^2) - 1/2.
    """
    q = tfd.Normal(params.mu, sigma(params.rho))
    p = tfd.Normal(w.mu, sigma(w.rho))
    return tf.reduce_sum(tfd.kl_divergence(q, p))
