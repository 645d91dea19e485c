"""The meta-update: move W toward the tasks' adapted posteriors (Reptile).

BASE algorithm, line 10:

    W_e = W_{e-1} + lambda * (1/C) sum_c ([phi_c^T, psi_c^T] - W_{e-1}).

A first-order update: no gradient flows through the inner loop. A task
whose inner loop produced a NaN or an infinity (a learning rate far too
high, say) is left out of the mean, so W stays finite; `task_delta` reports
it.
"""

import tensorflow as tf


def task_delta(adapted, w):
    """`(adapted - W, finite)`, the delta zeroed when any value is not finite.

    Args:
        adapted: a task's `VariationalParameters` after the inner loop.
        w: the meta-parameters the loop started from.

    Returns:
        The delta (same structure as `w`) and a float32 scalar, 1.0 if every
        value of `adapted` is finite else 0.0.
    """
    finite = tf.reduce_all(
        [tf.reduce_all(tf.math.is_finite(a)) for a in tf.nest.flatten(adapted)]
    )
    delta = tf.nest.map_structure(
        lambda a, p: tf.where(finite, a - p, tf.zeros_like(p)), adapted, w
    )
    return delta, tf.cast(finite, tf.float32)


def meta_update(w, delta_sum, num_finite, meta_learning_rate):
    """W + lambda * delta_sum / num_finite (W itself when no task is finite).

    Args:
        w: the meta-parameters W_{e-1} (tensors).
        delta_sum: the sum over the epoch's finite tasks of `adapted - W`.
        num_finite: how many tasks the sum holds.
        meta_learning_rate: lambda.

    Returns:
        W_e, the same structure as `w`.
    """
    scale = meta_learning_rate / tf.maximum(num_finite, 1.0)
    return tf.nest.map_structure(lambda p, d: p + scale * d, w, delta_sum)
