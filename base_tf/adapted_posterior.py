"""The adapted posterior q(z|D) q(theta|D): `Posterior`, a value to keep.

What `adaptation.adapt` returns: the variational parameters (phi, psi)
after T' steps, the `MetaTrainingConfig` of the prior they started from
(which says the search space, so the genotype can be read off phi), and
what was measured. It saves to and loads from a folder (a TF checkpoint of
(phi, psi) and `posterior.json`), so a genotype can be derived, or a
keras-tuner search started, long after the adaptation ran.
"""

import dataclasses
import json
import os

import tensorflow as tf

from base_tf import derivation, inference, search_space
from base_tf.meta_training_config import MetaTrainingConfig

POSTERIOR_FILE = "posterior.json"


@dataclasses.dataclass
class Posterior:
    """An adapted posterior q(z|D) q(theta|D) and where it came from.

    Attributes:
        params: `VariationalParameters` (phi, psi) as numpy arrays.
        meta_config: the `MetaTrainingConfig` of the prior it started from.
        info: what was adapted to, how, and the measured results (a
            JSON-ready dict: dataset, class_names, steps, accuracies,
            timings, ...).
    """

    params: inference.VariationalParameters
    meta_config: MetaTrainingConfig
    info: dict

    @property
    def space(self):
        """The `SearchSpace` of the supernet."""
        return search_space.get_space(self.meta_config.search_space)

    @property
    def op_probabilities(self):
        """p_e(o) = softmax(phi_e)_o, `[cell types, edges, ops]`."""
        return derivation.op_probabilities(self.params.logits)

    def genotype(self, rule=None):
        """The derived genotype (see `derivation.derive`)."""
        return derivation.derive(self.space, self.op_probabilities, rule)

    def save(self, directory):
        """Writes the posterior: a TF checkpoint of (phi, psi) and a JSON."""
        os.makedirs(directory, exist_ok=True)
        tf.train.Checkpoint(
            **{k: tf.Variable(v) for k, v in self.params._asdict().items()}
        ).write(os.path.join(directory, "posterior"))
        with open(os.path.join(directory, POSTERIOR_FILE), "w") as f:
            json.dump(
                {"meta_config": self.meta_config.to_dict(), **self.info},
                f,
                indent=2,
            )

    @classmethod
    def load(cls, directory):
        """Reads a posterior written by `save` (an `adapt` output folder).

        Raises:
            ValueError: the folder holds no adapted posterior.
        """
        path = os.path.join(directory, POSTERIOR_FILE)
        if not os.path.isfile(path):
            raise ValueError(
                f"{directory!r} holds no adapted posterior (no "
                f"{POSTERIOR_FILE}): pass the --output_dir of a `bazel run "
                "//bin:adapt` run."
            )
        with open(path) as f:
            info = json.load(f)
        meta_config = MetaTrainingConfig(**info.pop("meta_config"))
        reader = tf.train.load_checkpoint(os.path.join(directory, "posterior"))
        params = inference.VariationalParameters(
            *(
                reader.get_tensor(f"{name}/.ATTRIBUTES/VARIABLE_VALUE")
                for name in inference.VariationalParameters._fields
            )
        )
        return cls(params, meta_config, info)
