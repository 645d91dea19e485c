"""keras-tuner integration: BASE as an oracle, and the derived network as a
hypermodel.

    oracle = BASEOracle(posterior="runs/tiny_cifar10",    # a bin:adapt folder
                        objective="val_accuracy", max_trials=5)
    # or BASEOracle.from_prior("runs/tiny", "cifar10", ...): adapts itself
    tuner = keras_tuner.Tuner(oracle=oracle,
                              hypermodel=DerivedNetwork(...),
                              directory="runs/search", project_name="base")
    tuner.search(train, validation_data=val, epochs=10)

The oracle lives here; the hypermodel in `base_tf.hypermodel` (also
importable from here, as `tuner.DerivedNetwork`); the hyperparameters that
name a genotype's choices, which the oracle proposes and the hypermodel
reads, in `base_tf.hyperparameters`.
"""

import functools
import math

import keras_tuner
import numpy as np

from base_tf import (
    adaptation,
    derivation,
    hyperparameters,
    meta_training,
    search_space,
)

# The documented `tuner.DerivedNetwork` (README, "From keras-tuner").
from base_tf.hypermodel import DerivedNetwork as DerivedNetwork

# Draws that may all repeat a tried genotype before the search is declared
# exhausted around the posterior.
MAX_COLLISIONS = 500

_COMPLETED = keras_tuner.engine.trial.TrialStatus.COMPLETED


def adapted_posterior(
    meta_checkpoint, dataset, adaptation_config=None, data_dir=None
):
    """q(z|D): a meta-trained prior adapted to `dataset`, as `bin/adapt` does.

    Loads the prior of `meta_checkpoint`, reads the task of `dataset` with
    images at the prior's channels (1 for a prior of grey images, as
    `bin/adapt` brings them) and runs `adaptation.adapt`.

    Args:
        meta_checkpoint: a meta-training run folder (or its prior.keras).
        dataset: the dataset to adapt to (TFDS name or image folder).
        adaptation_config: `adaptation.AdaptationConfig` (None: defaults).
        data_dir: where TFDS datasets are prepared.

    Returns:
        An `adaptation.Posterior`.
    """
    config = adaptation_config or adaptation.AdaptationConfig()
    prior = meta_training.load_prior(meta_checkpoint)
    meta_config, model = prior
    task = adaptation.make_task(
        dataset,
        meta_config,
        config,
        data_dir,
        image_channels=model.supernet.image_channels,
    )
    return adaptation.adapt(prior, task, config)


class _PosteriorToAdapt:
    """The posterior of `adapted_posterior(...)`, adapted when first read.

    Its `meta_config` (the space) is known at once, from the run's config;
    its `params` cost an adaptation, run on first use only.
    """

    def __init__(self, meta_checkpoint, dataset, adaptation_config, data_dir):
        self.meta_config = meta_training.read_config(meta_checkpoint)
        self._args = (meta_checkpoint, dataset, adaptation_config, data_dir)

    @functools.cached_property
    def params(self):
        return adapted_posterior(*self._args).params


class BASEOracle(keras_tuner.Oracle):
    """Proposes architectures drawn from BASE's adapted posterior q(z|D).

    Where q(z|D) comes from: an adapted posterior (`posterior`: an
    `adaptation.Posterior` or the output folder of `bin/adapt`), or, with
    `BASEOracle.from_prior`, a meta-training run adapted to a dataset when
    the oracle first needs to propose. The oracle reads the posterior's
    architecture logits phi when it first proposes; they are part of its
    state, so a resumed search keeps its posterior (and does not adapt
    again).

    What it proposes: trial 1 is the most probable genotype of q(z|D)
    (`derivation.derive`, the "slots" rule for DARTS, per-edge argmax for
    NAS-Bench-201). Every later trial is drawn from q(z|D)'s sampling model
    (`derivation.sample`), redrawn while it repeats a genotype already
    tried; when `MAX_COLLISIONS` draws in a row repeat one, the search stops.

    How scores feed back: the oracle samples not q(z|D) itself but
    q(z|D) reweighted by the finished trials,

        w_n(c) = q(c|D) * exp(feedback * sum_t A_t * [c in genotype_t]),

    for every choice c (an op on an edge), where A_t is trial t's
    standardised score, (s_t - mean(s)) / std(s) over the completed trials,
    signed so that better is positive for the objective's direction. Choices
    of trials that scored well become likelier, those of trials that scored
    badly less likely; with no or one finished trial, or `feedback=0`, it is
    q(z|D) itself. The weights are recomputed from the trials at every
    proposal, so they survive a restart with the trials.

    Args:
        posterior: an `adaptation.Posterior` or the path of a `bin/adapt`
            output folder.
        rule: the derivation rule of trial 1 ("slots" or "argmax"; the
            deterministic "darts" rule has no sampling model).
        feedback: how strongly scores reweight the proposals (>= 0).
        objective, max_trials, seed, **kwargs: as for `keras_tuner.Oracle`.

    Raises:
        ValueError: a rule without a sampling model, or feedback < 0.
    """

    def __init__(
        self,
        posterior,
        *,
        rule=None,
        feedback=1.0,
        objective=None,
        max_trials=10,
        seed=None,
        **kwargs,
    ):
        super().__init__(
            objective=objective, max_trials=max_trials, seed=seed, **kwargs
        )
        if not feedback >= 0:
            raise ValueError(f"feedback must be >= 0, got {feedback!r}.")
        if isinstance(posterior, str):
            posterior = adaptation.Posterior.load(posterior)
        self._posterior = posterior
        self._logits = None
        self.space = search_space.get_space(posterior.meta_config.search_space)
        self.rule = rule or derivation.default_rule(self.space)
        if self.rule not in self.space.sampling_rules:
            raise ValueError(
                f"rule={self.rule!r} cannot propose genotypes over the "
                f"{self.space.name} space; use one of "
                f"{self.space.sampling_rules} (the "
                '"darts" rule is deterministic: it has one genotype only).'
            )
        self.feedback = float(feedback)
        self._weights = None
        hyperparameters.declare(self.hyperparameters, self.space)

    @classmethod
    def from_prior(
        cls,
        meta_checkpoint,
        dataset,
        *,
        adaptation_config=None,
        data_dir=None,
        **kwargs,
    ):
        """An oracle over a meta-trained prior adapted to `dataset`.

        The adaptation (`adapted_posterior`) runs when the oracle first
        proposes, not here: a search resumed from its state never runs it.

        Args:
            meta_checkpoint: a meta-training run folder (or its prior.keras).
            dataset: the dataset to adapt to (TFDS name or image folder).
            adaptation_config: `adaptation.AdaptationConfig` for that.
            data_dir: where TFDS datasets are prepared.
            **kwargs: for `BASEOracle` (rule, feedback, objective, ...).

        Returns:
            A `BASEOracle`.
        """
        posterior = _PosteriorToAdapt(
            meta_checkpoint, dataset, adaptation_config, data_dir
        )
        return cls(posterior, **kwargs)

    @property
    def _shape(self):
        space = self.space
        return (len(space.cell_types), space.num_edges, space.num_ops)

    @property
    def op_probabilities(self):
        """q(z|D)'s op probabilities (the posterior read on first use)."""
        if self._logits is None:
            logits = self._posterior.params.logits
            self._logits = np.asarray(logits, np.float64)
        return derivation.op_probabilities(self._logits)

    def proposal_weights(self):
        """w_n(c): q(z|D)'s op probabilities reweighted by finished trials."""
        bonus = np.zeros(self._shape)
        done = [
            t
            for t in self.trials.values()
            if t.status == _COMPLETED
            and t.score is not None
            and math.isfinite(t.score)
        ]
        scores = np.array([t.score for t in done])
        if self.feedback and len(done) > 1 and scores.std() > 0:
            sign = 1.0 if self.objective.direction == "max" else -1.0
            advantages = sign * (scores - scores.mean()) / scores.std()
            for trial, advantage in zip(done, advantages, strict=True):
                for index in self._choice_indices(trial.hyperparameters):
                    bonus[index] += self.feedback * advantage
        return self.op_probabilities * np.exp(bonus)

    @keras_tuner.synchronized
    def end_trial(self, trial):
        """Records the trial (keras-tuner) and reweights the proposals."""
        super().end_trial(trial)
        self._weights = self.proposal_weights()

    def _choice_indices(self, hp):
        """(cell type, edge, op) indices of the choices of `hp`'s genotype."""
        genotype = hyperparameters.declare(hp.copy(), self.space)
        space = self.space
        return [
            (c, space.edges.index((source, k)), space.ops.index(op))
            for c, cell_type in enumerate(space.cell_types)
            for k, pairs in zip(
                space.computed_nodes,
                genotype.cell_nodes(cell_type),
                strict=True,
            )
            for op, source in pairs
        ]

    def populate_space(self, trial_id):
        """Trial 1: the most probable genotype; then fresh posterior draws."""
        if not self.trials:
            genotype = derivation.derive(
                self.space, self.op_probabilities, self.rule
            )
            return {
                "status": "RUNNING",
                "values": hyperparameters.values(genotype),
            }
        if self._weights is None:
            self._weights = self.proposal_weights()
        weights = self._weights
        rng = np.random.default_rng([self.seed, len(self.trials)])
        for _ in range(MAX_COLLISIONS):
            genotype = derivation.sample(self.space, weights, rng, self.rule)
            proposal = hyperparameters.values(genotype)
            if not self._duplicate(proposal):
                return {"status": "RUNNING", "values": proposal}
        return {"status": "STOPPED", "values": None}

    def get_state(self):
        state = super().get_state()
        state["base"] = {
            "space": self.space.name,
            "rule": self.rule,
            "feedback": self.feedback,
            "logits": None if self._logits is None else self._logits.tolist(),
        }
        return state

    def set_state(self, state):
        super().set_state(state)
        base = state["base"]
        if base["space"] != self.space.name:
            raise ValueError(
                f"This search was run over the {base['space']} space, not "
                f"{self.space.name}: use another project_name, or "
                "overwrite=True."
            )
        self.rule, self.feedback = base["rule"], base["feedback"]
        if base["logits"] is not None:
            self._logits = np.asarray(base["logits"], np.float64)
        self._weights = None  # Recomputed from the reloaded trials.
