"""The supernet f(x; theta, z): all ops of a search space, mixed by z."""

from base_tf.supernet.network import Supernet
from base_tf.supernet.parameters import ParameterLayout, ParameterSpec

__all__ = ["ParameterLayout", "ParameterSpec", "Supernet"]
