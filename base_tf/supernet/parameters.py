"""`ParameterLayout`: the supernet's weight tensors as one flat vector theta.

BASE places a Gaussian q(theta|D) = N(mu, sigma^2) over every weight of the
supernet. Keeping theta as one flat vector makes the posterior three tensor
ops to sample (mu + sigma * eps), one op to update in the inner loop, and one
variable to checkpoint, whatever the depth of the network. The layout names
each weight tensor, its shape and fan-in, and slices theta back into tensors
with a single split.
"""

import dataclasses
import math

import numpy as np
import tensorflow as tf


@dataclasses.dataclass(frozen=True)
class ParameterSpec:
    """One weight tensor of the supernet.

    Args:
        name: unique name, e.g. "cell0/node2/stride1/pointwise1".
        shape: the tensor's shape.
        fan_in: inputs per output unit, for the initial scale; 0 for
            tensors that start at zero (biases).
    """

    name: str
    shape: tuple
    fan_in: int

    @property
    def size(self):
        return math.prod(self.shape)


class ParameterLayout:
    """Named weight tensors laid out end to end in one flat vector."""

    def __init__(self):
        self._specs = []
        self._names = set()

    def add(self, name, shape, fan_in):
        """Adds a tensor to the end of the layout and returns its name.

        Raises:
            ValueError: `name` is already in the layout, or `shape` has a
                non-positive dimension.
        """
        if name in self._names:
            raise ValueError(f"Parameter {name!r} is already in the layout.")
        shape = tuple(int(d) for d in shape)
        if not shape or min(shape) < 1:
            raise ValueError(f"Parameter {name!r} has bad shape {shape}.")
        self._specs.append(ParameterSpec(name, shape, int(fan_in)))
        self._names.add(name)
        return name

    @property
    def specs(self):
        return tuple(self._specs)

    @property
    def size(self):
        """The length of theta: the number of weights."""
        return sum(spec.size for spec in self._specs)

    def unflatten(self, theta):
        """Splits the flat vector `theta` into `{name: tensor}`."""
        parts = tf.split(theta, [spec.size for spec in self._specs])
        return {
            spec.name: tf.reshape(part, spec.shape)
            for spec, part in zip(self._specs, parts, strict=True)
        }

    def flatten(self, tensors):
        """Concatenates `{name: tensor}` back into the flat vector theta."""
        return tf.concat(
            [tf.reshape(tensors[spec.name], [-1]) for spec in self._specs], 0
        )

    def initial_values(self, seed):
        """He-normal weights, std sqrt(2 / fan_in); zeros where fan_in is 0.

        Args:
            seed: an int; the same seed gives the same vector.

        Returns:
            A float32 numpy vector of length `size`.
        """
        rng = np.random.default_rng(seed)
        parts = []
        for spec in self._specs:
            if spec.fan_in == 0:
                parts.append(np.zeros(spec.size, np.float32))
            else:
                std = math.sqrt(2.0 / spec.fan_in)
                parts.append(rng.normal(0.0, std, spec.size))
        return np.concatenate(parts).astype(np.float32)
