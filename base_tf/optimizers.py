"""DARTS's optimiser: SGD with momentum and L2 weight decay, PyTorch's way.

DARTS trains with `torch.optim.SGD(momentum=0.9, weight_decay=3e-4)`,
which adds the L2 term to every weight's gradient after clipping and
before momentum. Keras's own `weight_decay` argument is the decoupled
(AdamW-style) decay w <- w - lr * wd * w, which bypasses the momentum
buffer and so is a different regulariser under momentum; a
`kernel_regularizer` would add the L2 term before clipping and miss the
BN weights and biases. `DartsSGD` is PyTorch's update.
"""

import keras


@keras.saving.register_keras_serializable(package="base_tf")
class DartsSGD(keras.optimizers.Optimizer):
    """SGD with momentum and L2 weight decay as `torch.optim.SGD` has them.

    After the base class clips the gradients (`global_clipnorm`), each
    weight w with gradient g is updated as PyTorch's SGD (dampening 0, no
    Nesterov), which DARTS trains with:

        g' = g + l2 * w
        b  = momentum * b + g'
        w  = w - lr * b

    Keras's `SGD` keeps lr inside its buffer (v = momentum * v - lr * g),
    the same only while lr is constant.

    Args:
        learning_rate: a float or a `LearningRateSchedule`.
        momentum: in [0, 1).
        l2: the weight decay coefficient.
        **kwargs: passed to `keras.optimizers.Optimizer` (e.g.
            `global_clipnorm`, `name`).
    """

    def __init__(
        self, learning_rate=0.025, momentum=0.9, l2=3e-4, name="darts_sgd", **kw
    ):
        super().__init__(learning_rate=learning_rate, name=name, **kw)
        self.momentum = float(momentum)
        self.l2 = float(l2)

    def build(self, variables):
        if self.built:
            return
        super().build(variables)
        self.buffers = self.add_optimizer_variables(variables, "momentum")

    def update_step(self, gradient, variable, learning_rate):
        learning_rate = keras.ops.cast(learning_rate, variable.dtype)
        gradient = keras.ops.cast(gradient, variable.dtype)
        if self.l2:
            gradient = gradient + self.l2 * variable
        buffer = self.buffers[self._get_variable_index(variable)]
        self.assign(buffer, self.momentum * buffer + gradient)
        self.assign_sub(variable, learning_rate * buffer)

    def get_config(self):
        return {
            **super().get_config(),
            "momentum": self.momentum,
            "l2": self.l2,
        }
