"""The supernet f(x; theta, z): all ops of a search space, mixed by z."""

from base_tf.supernet.mixed_edge import MixedEdge
from base_tf.supernet.network import Supernet
from base_tf.supernet.parameters import ParameterLayout, ParameterSpec

__all__ = ["MixedEdge", "ParameterLayout", "ParameterSpec", "Supernet"]
