"""What meta-training reports of an epoch, and where.

An epoch's metrics (`MetaTrainer.train_epoch`) go to TensorBoard
(`write_summaries`: every scalar, and the entropy of each edge's q(z|D)
averaged over the tasks), and a line of them to the console
(`prior_line`: what the prior W has learned and how far the epoch moved
it). `PhaseClock` times the phases of an epoch (`PHASES`), so that a slow
run says where its time goes (`benchmarks/meta_training_speed.py`).
"""

import contextlib
import time

import tensorflow as tf

from base_tf.inference import statistics

# The phases of an epoch `MetaTrainer.train_epoch` times: waiting for the
# tasks (drawn and decoded on the sampler's thread while the last ones
# adapt); the inner loop with the accuracies before and after it (one
# compiled function a batch of replicas; the first call of each image size
# also traces it); the meta-update; the prior's summary statistics
# (`statistics.summary` and the update norms). Writing them to TensorBoard,
# after, is not timed.
PHASES = ("sampling", "adaptation", "meta_update", "summaries")


class PhaseClock:
    """Wall time of named phases, summed over their occurrences."""

    def __init__(self):
        self._seconds = dict.fromkeys(PHASES, 0.0)

    @contextlib.contextmanager
    def __call__(self, phase):
        """Times a `with clock(phase):` block, adding it to `phase`'s sum."""
        start = time.perf_counter()
        try:
            yield
        finally:
            self._seconds[phase] += time.perf_counter() - start

    def seconds(self):
        """`{"time/<phase>": seconds}` for every phase of `PHASES`."""
        return {f"time/{k}": v for k, v in self._seconds.items()}


def prior_line(results):
    """The prior's statistics of an epoch's `results`, as one line."""
    prior = {k.split("/", 1)[1]: v for k, v in results.items() if "prior/" in k}
    prior["kl_architecture"] = results["kl_architecture"]
    prior["kl_weights"] = results["kl_weights"]
    norms = {
        k.split("/", 1)[1]: v
        for k, v in results.items()
        if k.startswith("meta_update_norm/")
    }
    return (
        "prior "
        + statistics.format_summary(prior, norms)
        + (" (KL: the tasks' posteriors from the prior)")
    )


def write_summaries(writer, space, epoch, results, entropy):
    """Writes an epoch's metrics to TensorBoard.

    Args:
        writer: the run's `tf.summary` writer (a no-op one off the chief).
        space: the supernet's `SearchSpace`, which names the edges.
        epoch: the epoch, the summaries' step.
        results: `{name: scalar}`, the epoch's metrics.
        entropy: `[cell types, edges]`, the entropy of q(z|D) on each edge,
            averaged over the epoch's tasks.
    """
    with writer.as_default(step=epoch):
        for k, v in results.items():
            tf.summary.scalar(k, v)
        for c, cell_type in enumerate(space.cell_types):
            for e, (i, k) in enumerate(space.edges):
                tf.summary.scalar(
                    f"posterior_entropy/{cell_type}/{i}_{k}", entropy[c, e]
                )
    writer.flush()
