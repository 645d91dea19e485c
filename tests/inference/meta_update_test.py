"""The Reptile meta-update and its guard against non-finite tasks."""

import numpy as np
import tensorflow as tf

from base_tf.inference import VariationalParameters, meta_update, task_delta


def _p(value):
    return VariationalParameters(
        tf.fill([1, 2, 3], value), tf.fill([4], value), tf.fill([4], value)
    )


class MetaUpdateTest(tf.test.TestCase):
    def test_formula_by_hand(self):
        # W = 1; tasks adapted to 3 and 5: mean delta 3; lambda 0.5 -> 2.5.
        w = _p(1.0)
        deltas = [task_delta(_p(3.0), w), task_delta(_p(5.0), w)]
        delta_sum = tf.nest.map_structure(
            lambda a, b: a + b, deltas[0][0], deltas[1][0]
        )
        count = deltas[0][1] + deltas[1][1]
        new = meta_update(w, delta_sum, count, 0.5)
        for t in new:
            self.assertAllClose(t, tf.fill(t.shape, 2.5))

    def test_non_finite_task_is_left_out(self):
        w = _p(1.0)
        bad = _p(1.0)._replace(mu=tf.constant([1.0, np.nan, 1.0, np.inf]))
        d_bad, ok_bad = task_delta(bad, w)
        d_good, ok_good = task_delta(_p(3.0), w)
        self.assertEqual(float(ok_bad), 0.0)
        self.assertEqual(float(ok_good), 1.0)
        delta_sum = tf.nest.map_structure(lambda a, b: a + b, d_bad, d_good)
        new = meta_update(w, delta_sum, ok_bad + ok_good, 1.0)
        for t in new:  # the mean of the finite task alone: W -> 3
            self.assertAllClose(t, tf.fill(t.shape, 3.0))

    def test_no_finite_task_keeps_w(self):
        w = _p(1.0)
        d_bad, ok = task_delta(_p(np.nan), w)
        new = meta_update(w, d_bad, ok, 1.0)
        for a, b in zip(new, w, strict=True):
            self.assertAllClose(a, b)


if __name__ == "__main__":
    tf.test.main()
