"""BASE's variational inference: prior, posterior, ELBO, optimization
embedding (the inner loop) and the meta-update."""

from base_tf.inference.distributions import (
    VariationalParameters,
    kl_architecture,
    kl_weights,
    posterior,
    prior,
    rho_for_sigma,
    sigma,
)
from base_tf.inference.elbo import (
    ElboTerms,
    ElboWeights,
    elbo,
    straight_through,
)
from base_tf.inference.inner_loop import (
    OPTIMIZERS,
    SAMPLES,
    InnerLoopConfig,
    inner_loop,
    posterior_mean_accuracy,
)
from base_tf.inference.meta_update import meta_update, task_delta

__all__ = [
    "OPTIMIZERS",
    "SAMPLES",
    "ElboTerms",
    "ElboWeights",
    "InnerLoopConfig",
    "VariationalParameters",
    "elbo",
    "inner_loop",
    "kl_architecture",
    "kl_weights",
    "meta_update",
    "posterior",
    "posterior_mean_accuracy",
    "prior",
    "rho_for_sigma",
    "sigma",
    "straight_through",
    "task_delta",
]
