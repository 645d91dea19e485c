"""`Op`, the base class of every candidate op, and the rules of its arguments.

The candidate ops (`operations`) share their arguments' names and rules
(`channels` a positive integer, `stride` 1 or 2, `affine` a bool, ...).
Each rule is stated once here, by the argument's name, and `Op` applies it,
stores the value and returns it in `get_config`, so that a subclass states
only its layers and its computation, and round-trips through
`get_config`/`from_config` with no code of its own.
"""

import keras

from base_tf.search_space.building_blocks import strided_shape


def _is_positive_int(value):
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


# The rule each argument of an op obeys, by the argument's name:
# (whether a value obeys it, what it asks for).
_RULES = {
    "mode": (lambda value: value in ("max", "avg"), "'max' or 'avg'"),
    "channels": (_is_positive_int, "a positive integer"),
    "kernel_size": (_is_positive_int, "a positive integer"),
    "pool_size": (_is_positive_int, "a positive integer"),
    "stride": (lambda value: type(value) is int and value in (1, 2), "1 or 2"),
    "dilation": (_is_positive_int, "a positive integer"),
    "affine": (lambda value: isinstance(value, bool), "a bool"),
}


def check_arguments(where, **arguments):
    """Checks each argument by the rule of its name.

    Args:
        where: what the arguments are for (an op's class or name), which
            the error names.
        **arguments: the values to check, by argument name (a key of
            `_RULES`).

    Raises:
        ValueError: an argument breaks its rule.
    """
    for what, value in arguments.items():
        obeys, requirement = _RULES[what]
        if not obeys(value):
            raise ValueError(
                f"{where}: {what} must be {requirement}; got {value!r}."
            )


class Op(keras.layers.Layer):
    """The base of the candidate ops: checks, stores and configures arguments.

    A subclass names its own arguments in `ARGUMENTS` and passes their
    values to `Op.__init__` in that order. Each is checked by the rule of
    its name (`check_arguments`), with errors that name the subclass,
    stored as an attribute and returned by `get_config`. The output shape
    follows from `stride` and `channels`: an op without them has stride 1
    and keeps the input's channels. A subclass thus states only its layers
    and its computation.

    Args:
        *values: the values of the subclass's `ARGUMENTS`, in order.
        **kwargs: passed to `keras.layers.Layer` (e.g. `name`, `dtype`).
    """

    ARGUMENTS = ()
    stride = 1
    channels = None

    def __init__(self, *values, **kwargs):
        super().__init__(**kwargs)
        arguments = dict(zip(self.ARGUMENTS, values, strict=True))
        check_arguments(type(self).__name__, **arguments)
        for what, value in arguments.items():
            setattr(self, what, value)

    def compute_output_shape(self, input_shape):
        return strided_shape(input_shape, self.stride, self.channels)

    def get_config(self):
        return {
            **super().get_config(),
            **{what: getattr(self, what) for what in self.ARGUMENTS},
        }
