"""What a prior or a posterior has learned, in a few numbers.

Meta-training logs these for the prior W after every epoch, adaptation for
the posterior it ends with, so that one can see whether the architecture
distribution and the weights' uncertainty move at all, or only the weights'
means (issue 13 found alpha and sigma where they started):

* `relative_entropy`: the entropy of each choice's Categorical(logits)
  divided by log(number of ops): 1 is uniform (nothing learned), 0 one op
  for sure. Reported as the mean over the choices (cell types x edges).
* `kl_architecture`, `kl_weights`: KL(q || reference) of
  `distributions.kl_architecture` / `kl_weights`, for a posterior against
  its prior W, or for a prior against the W_0 it started from.
* `sigma_mean`, `sigma_min`, `sigma_max`: of sigma = softplus(rho).
"""

import math

import tensorflow as tf

from base_tf.inference import distributions


def relative_entropy(logits):
    """Entropy of Categorical(logits) over log(ops), one value a choice.

    Args:
        logits: `[..., ops]`.

    Returns:
        `[...]`, in [0, 1].
    """
    logits = tf.convert_to_tensor(logits, tf.float32)
    log_p = tf.nn.log_softmax(logits)
    entropy = -tf.reduce_sum(tf.exp(log_p) * log_p, -1)
    return entropy / math.log(logits.shape[-1])


def summary(params, reference=None):
    """The numbers of the module docstring for `params`.

    Args:
        params: `VariationalParameters` (a prior W or a posterior).
        reference: `VariationalParameters` to measure the KL terms against
            (the prior of a posterior, or W_0 for a prior), or None for no
            KL terms.

    Returns:
        `{name: float}`.
    """
    sigma = distributions.sigma(tf.convert_to_tensor(params.rho))
    result = {
        "relative_entropy": float(
            tf.reduce_mean(relative_entropy(params.logits))
        ),
        "sigma_mean": float(tf.reduce_mean(sigma)),
        "sigma_min": float(tf.reduce_min(sigma)),
        "sigma_max": float(tf.reduce_max(sigma)),
    }
    if reference is not None:
        result["kl_architecture"] = float(
            distributions.kl_architecture(params, reference)
        )
        result["kl_weights"] = float(
            distributions.kl_weights(params, reference)
        )
    return result


def update_norms(new, old):
    """The L2 norm of `new - old` for each of the logits, mu and rho.

    Returns:
        `{"logits": ..., "mu": ..., "rho": ...}`.
    """
    return {
        name: float(tf.norm(tf.convert_to_tensor(a) - tf.convert_to_tensor(b)))
        for name, a, b in zip(
            distributions.VariationalParameters._fields, new, old, strict=True
        )
    }


def format_summary(values, norms=None):
    """One line for people: a `summary` and, if given, `update_norms`."""
    parts = [
        f"relative entropy {values['relative_entropy']:.4f}",
        f"sigma {values['sigma_mean']:.5f} "
        f"[{values['sigma_min']:.5f}, {values['sigma_max']:.5f}]",
    ]
    if "kl_architecture" in values:
        parts.append(
            f"KL_z {values['kl_architecture']:.3g}, "
            f"KL_theta {values['kl_weights']:.3g}"
        )
    if norms:
        parts.append(
            "|update| " + ", ".join(f"{k} {v:.3g}" for k, v in norms.items())
        )
    return "; ".join(parts)
