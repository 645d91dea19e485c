"""keras-tuner integration: BASE as an oracle, and the derived network as a
hypermodel.

    oracle = BASEOracle(posterior="runs/tiny_cifar10",    # a bin:adapt folder
                        objective="val_accuracy", max_trials=5)
    # or BASEOracle.from_prior("runs/tiny", "cifar10", ...): adapts itself
    tuner = keras_tuner.Tuner(oracle=oracle,
                              hypermodel=DerivedNetwork(...),
                              directory="runs/search", project_name="base")
    tuner.search(train, validation_data=val, epochs=10)

Every choice of a cell is a named hyperparameter, so that keras-tuner's
summaries read as architectures:

* DARTS: `normal/node2/input0` (the input node of node 2's first slot) and
  `normal/node2/op0` (its op), likewise `input1`/`op1` and nodes 2..5 of
  the `normal` and `reduce` cells;
* NAS-Bench-201: `cell/node2/from1` (the op on the edge 1 -> 2), for the
  6 edges of the cell.

A node's two DARTS slots are an unordered pair: the oracle lists them
sorted by (input, op), so one architecture has one set of values.
"""

import functools
import math

import keras
import keras_tuner
import numpy as np
import tensorflow as tf

from base_tf import (
    adaptation,
    derivation,
    evaluation,
    meta_training,
    optimizers,
    search_space,
)

# Draws that may all repeat a tried genotype before the search is declared
# exhausted around the posterior.
MAX_COLLISIONS = 500

# How far outside [0, 1] image values may lie (resizing can overshoot).
_SLACK = 0.1

_COMPLETED = keras_tuner.engine.trial.TrialStatus.COMPLETED


def declare(hp, space):
    """Declares the choices of `space` in `hp` and returns the genotype.

    Args:
        hp: `keras_tuner.HyperParameters`.
        space: a `SearchSpace` or its name.

    Returns:
        The genotype of `hp`'s current values (each choice's default, the
        first candidate, when it has no value yet).
    """
    space = search_space.get_space(space) if isinstance(space, str) else space
    cells = {}
    for cell_type in space.cell_types:
        cells[cell_type] = [
            _declare_node(hp, space, f"{cell_type}/node{k}", k)
            for k in space.computed_nodes
        ]
    return space.genotype_type.from_cell_nodes(cells)


def _declare_node(hp, space, prefix, node):
    """Declares `node`'s choices; returns its (op, input) pairs."""
    sources = [space.edges[e][0] for e in space.edges_into(node)]
    if space.inputs_per_node is None:
        # Every edge holds an op, "none" included.
        return [
            (hp.Choice(f"{prefix}/from{source}", list(space.ops)), source)
            for source in sources
        ]
    pairs = []
    for slot in range(space.inputs_per_node):
        source = hp.Choice(f"{prefix}/input{slot}", sources)
        op = hp.Choice(
            f"{prefix}/op{slot}", [op for op in space.ops if op != "none"]
        )
        pairs.append((op, source))
    return pairs


def names(space):
    """The names of `space`'s hyperparameters, as `declare` declares them."""
    hp = keras_tuner.HyperParameters()
    declare(hp, space)
    return {parameter.name for parameter in hp.space}


def _check_space(hp, space):
    """Refuses `hp` when it holds another search space's choices.

    `declare` gives a choice it does not find its default, so a hypermodel
    of one space under an oracle of the other would train networks of
    default cells, unrelated to the oracle's proposals.
    """
    have = {parameter.name for parameter in hp.space}
    for other in search_space.SPACES.values():
        if other.name != space.name and have & names(other):
            raise keras_tuner.errors.FatalValueError(
                f"DerivedNetwork({space.name!r}) was given the "
                f"hyperparameters of the {other.name} space (e.g. "
                f"{sorted(have & names(other))[0]}): its networks would not "
                f"be the proposed architectures. Use "
                f"DerivedNetwork({other.name!r}), the space of the oracle's "
                "posterior."
            )


def check_images(images, what="images"):
    """Refuses images that are not floats in [0, 1].

    The derived networks standardise float images in [0, 1] and do not
    rescale: uint8 images in 0..255 (or floats in 0..255) would train a
    network on inputs 255 times too large without any error, so they are
    refused. Checked: the dtype, and the values of the first batch.

    Args:
        images: a `tf.data.Dataset` of (images, labels) or of images, or an
            array or tensor of images; anything else is not checked.
        what: how the message names them.

    Raises:
        keras_tuner.errors.FatalValueError: integer images, or values
            outside [0, 1] (a little slack is left for resizing's
            overshoot).
    """
    if isinstance(images, tf.data.Dataset):
        spec = images.element_spec
        if isinstance(spec, tuple):
            spec = spec[0]
        if not isinstance(spec, tf.TensorSpec):
            return
        dtype = spec.dtype
        first = next(iter(images.take(1)), None)
        if isinstance(first, tuple):
            first = first[0]
    elif isinstance(images, (np.ndarray, tf.Tensor)):
        dtype = tf.as_dtype(images.dtype)
        first = images
    else:
        return
    if not dtype.is_floating:
        raise keras_tuner.errors.FatalValueError(
            f"The {what} are {dtype.name}; DerivedNetwork's networks take "
            "float images in [0, 1]: convert them with "
            "tf.image.convert_image_dtype(images, tf.float32) (uint8 / 255)."
        )
    if first is None or not np.size(first):
        return
    low, high = float(np.min(first)), float(np.max(first))
    if low < -_SLACK or high > 1 + _SLACK:
        raise keras_tuner.errors.FatalValueError(
            f"The {what} hold values in [{low:g}, {high:g}]; DerivedNetwork's "
            "networks take float images in [0, 1] (they standardise them "
            "themselves): divide 0..255 pixels by 255, and do not "
            "standardise them first."
        )


def values(genotype):
    """The hyperparameter values of `genotype` (see the module docstring)."""
    space = search_space.space_of(genotype)
    result = {}
    for cell_type in space.cell_types:
        for k, pairs in zip(
            space.computed_nodes, genotype.cell_nodes(cell_type), strict=True
        ):
            prefix = f"{cell_type}/node{k}"
            if space.inputs_per_node is None:
                for op, source in pairs:
                    result[f"{prefix}/from{source}"] = op
                continue
            ordered = sorted(pairs, key=lambda pair: (pair[1], pair[0]))
            for slot, (op, source) in enumerate(ordered):
                result[f"{prefix}/input{slot}"] = source
                result[f"{prefix}/op{slot}"] = op
    return result


def adapted_posterior(
    meta_checkpoint, dataset, adaptation_config=None, data_dir=None
):
    """q(z|D): a meta-trained prior adapted to `dataset`, as `bin/adapt` does.

    Loads the prior of `meta_checkpoint`, reads the task of `dataset` with
    images at the prior's channels (1 for a prior of grey images, as
    `bin/adapt` brings them) and runs `adaptation.adapt`.

    Args:
        meta_checkpoint: a meta-training run folder.
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
        if self.rule not in derivation.SAMPLING_RULES[self.space.name]:
            raise ValueError(
                f"rule={self.rule!r} cannot propose genotypes over the "
                f"{self.space.name} space; use one of "
                f"{derivation.SAMPLING_RULES[self.space.name]} (the "
                '"darts" rule is deterministic: it has one genotype only).'
            )
        self.feedback = float(feedback)
        self._weights = None
        declare(self.hyperparameters, self.space)

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
            meta_checkpoint: a meta-training run folder.
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
        genotype = declare(hp.copy(), self.space)
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
            return {"status": "RUNNING", "values": values(genotype)}
        if self._weights is None:
            self._weights = self.proposal_weights()
        weights = self._weights
        rng = np.random.default_rng([self.seed, len(self.trials)])
        for _ in range(MAX_COLLISIONS):
            genotype = derivation.sample(self.space, weights, rng, self.rule)
            proposal = values(genotype)
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


class DerivedNetwork(keras_tuner.HyperModel):
    """The derived network of a trial's architecture, compiled to train.

    `build(hp)` reads the genotype off the trial's hyperparameters
    (`declare`) and builds its network (`evaluation.build_network`, without
    the auxiliary head: trials are short) with DARTS's optimizer
    (`optimizers.DartsSGD`: SGD, momentum, L2 weight decay as PyTorch applies
    it) and global-norm gradient clipping. It refuses the hyperparameters
    of the other search space (a `BASEOracle` over another space than
    `space`): keras-tuner's `Tuner` then fails as it is made.

    `fit` trains it as `keras.Model.fit` does, after `check_images` on the
    training and validation images: the networks take float32 images in
    [0, 1]; integer images (uint8 0..255) or values far outside [0, 1] are
    refused before the first trial trains, not converted.

    Args:
        space: the search space's name ("darts" or "nas_bench_201").
        num_classes: the classes of the dataset.
        image_shape: (height, width, channels) of the [0, 1] float images.
        channels, num_cells: the network's size (see `build_network`).
        learning_rate, momentum, weight_decay, grad_clip: the optimizer.
        mean, std: the per-channel standardisation (see `build_network`).
        **kwargs: for `keras_tuner.HyperModel` (name, tunable).
    """

    def __init__(
        self,
        space,
        num_classes,
        image_shape,
        channels=None,
        num_cells=None,
        learning_rate=0.025,
        momentum=0.9,
        weight_decay=3e-4,
        grad_clip=5.0,
        mean=None,
        std=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.space = search_space.get_space(space)
        self.num_classes = num_classes
        self.image_shape = tuple(image_shape)
        self.channels, self.num_cells = channels, num_cells
        self.learning_rate, self.momentum = learning_rate, momentum
        self.weight_decay, self.grad_clip = weight_decay, grad_clip
        self.mean, self.std = mean, std

    def build(self, hp):
        _check_space(hp, self.space)
        genotype = declare(hp, self.space)
        model = evaluation.build_network(
            genotype,
            self.num_classes,
            self.image_shape,
            channels=self.channels,
            num_cells=self.num_cells,
            mean=self.mean,
            std=self.std,
        )
        model.compile(
            optimizer=optimizers.DartsSGD(
                self.learning_rate,
                momentum=self.momentum,
                l2=self.weight_decay,
                global_clipnorm=self.grad_clip,
            ),
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            metrics=["accuracy"],
        )
        return model

    def fit(self, hp, model, x=None, *args, validation_data=None, **kwargs):
        check_images(x, "training images")
        if isinstance(validation_data, (tuple, list)) and validation_data:
            check_images(validation_data[0], "validation images")
        elif validation_data is not None:
            check_images(validation_data, "validation images")
        return model.fit(x, *args, validation_data=validation_data, **kwargs)
