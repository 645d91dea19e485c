"""A mixed edge, the paper's equation as a Keras layer.

An edge from node i of a cell computes every candidate op of the search
space and mixes them by the architecture sample z of that edge:

    x_{i -> k} = sum_l z^l phi^l(x_i; theta),     z ~ q(z) on the simplex,

and node k is the sum of its in-edges. `MixedEdge` is that definition, op
by op: each candidate op is its own Keras layer of `search_space.OPS`, and
the edge's architecture logits alpha are a Keras weight of the layer, with
its distribution `p(z; alpha) = RelaxedOneHotCategorical(tau, alpha)` (TFP)
a method away. It is the readable reference: the supernet computes the same
sums with fused kernels (`mixed_op.MixedNode`), and its tests check the two
against each other, values and gradients. It is also a layer to put in a
model of one's own and train with `fit`: while training, z is a
reparameterised sample of p(z; alpha), so alpha learns with the weights;
at inference z is the expected op weights softmax(alpha).
"""

import keras
import tensorflow as tf
import tensorflow_probability as tfp

from base_tf import search_space as search_spaces
from base_tf.search_space import building_blocks

tfd = tfp.distributions


@keras.saving.register_keras_serializable(package="base_tf")
class MixedEdge(keras.layers.Layer):
    """sum_l z^l op_l(x) over the candidate ops of a search space.

    Args:
        space: a search space's name (`search_space.get_space`).
        channels: the output's channels (the input's, for a space whose
            parameter-free ops keep their input's channels).
        stride: 1, or 2 on an edge that halves the resolution.
        temperature: tau of the relaxed sample drawn while training.
        seed: seeds those samples.
        **kwargs: passed to `keras.layers.Layer`.
    """

    def __init__(
        self, space, channels, stride=1, temperature=1.0, seed=None, **kwargs
    ):
        super().__init__(**kwargs)
        self.space = search_spaces.get_space(space)
        self.channels = int(channels)
        self.stride = int(stride)
        self.temperature = float(temperature)
        self.seed = seed
        self._seed_generator = keras.random.SeedGenerator(seed)
        # As the supernet's ops: BN without centre and scale, and, in a
        # space whose search network does so, a BN after each pool.
        self.ops = [
            search_spaces.OPS[name](
                self.channels, self.stride, False, name=name
            )
            for name in self.space.ops
        ]
        self.pool_norms = {
            name: building_blocks.batch_norm(affine=False, name=f"{name}_bn")
            for name in self.space.ops
            if self.space.pool_batch_norm and "pool" in name
        }

    def build(self, input_shape):
        self.alpha = self.add_weight(
            name="alpha",
            shape=(len(self.space.ops),),
            initializer="zeros",
        )  # the ops build when first called

    def prior(self):
        """p(z; alpha): the relaxed categorical the edge samples z from."""
        return tfd.RelaxedOneHotCategorical(
            self.temperature, logits=tf.convert_to_tensor(self.alpha)
        )

    def call(self, inputs, z=None, training=None):
        """The edge's output for `inputs` mixed by `z` (`[ops]`); without
        `z`, a sample of `prior()` while training, softmax(alpha) else."""
        if z is None:
            if training:
                seed = tf.cast(self._seed_generator.next(), tf.int32)
                z = self.prior().sample(seed=seed)
            else:
                z = tf.nn.softmax(tf.convert_to_tensor(self.alpha))
        total = 0.0
        for o, (name, op) in enumerate(
            zip(self.space.ops, self.ops, strict=True)
        ):
            y = op(inputs, training=training)
            if name in self.pool_norms:
                y = self.pool_norms[name](y, training=training)
            total += z[o] * y
        return total

    def get_config(self):
        config = super().get_config()
        config.update(
            space=self.space.name,
            channels=self.channels,
            stride=self.stride,
            temperature=self.temperature,
            seed=self.seed,
        )
        return config
