"""Which tasks an epoch draws, in which calls of the replicas, and the
hand-over of tasks drawn ahead on the sampler's thread (no data read: the
inner loop's inputs of a task are stood in for by its index)."""

import threading

import tensorflow as tf

from base_tf import meta_training_tasks
from base_tf.meta_training_config import MetaTrainingConfig
from base_tf.meta_training_tasks import TaskSampler, task_seed


class IndexSampler(TaskSampler):
    """A `TaskSampler` whose task inputs are `(index, size, thread name)`."""

    def inputs(self, index, tasks=None, size=None):
        return index, size, threading.current_thread().name


def sampler(**fields):
    config = MetaTrainingConfig(**fields)
    return IndexSampler(config, None, tf.distribute.get_strategy())


class TaskSamplerTest(tf.test.TestCase):
    def test_task_seed_is_the_run_seed_and_the_task_index(self):
        self.assertAllEqual(task_seed(3, 17), [3, 17])
        self.assertEqual(task_seed(3, 17).dtype, tf.int64)

    def test_an_epoch_is_c_tasks_from_e_times_c_one_call_each(self):
        groups = sampler(tasks_per_epoch=3).groups(2)
        self.assertEqual(groups, [([6], 32), ([7], 32), ([8], 32)])

    def test_tasks_of_one_size_go_together_smallest_first(self):
        groups = sampler(
            image_size=16, image_sizes=(16, 8), tasks_per_epoch=4
        ).groups(1)
        # Task c is at image_sizes[c % 2]: 5 and 7 at 8, 4 and 6 at 16.
        self.assertEqual(groups, [([5], 8), ([7], 8), ([4], 16), ([6], 16)])

    def test_tasks_are_drawn_on_the_sampler_thread(self):
        index, size, thread = sampler().sample([4, 5], 16).result()[1]
        self.assertEqual((index, size), (5, 16))
        self.assertTrue(thread.startswith("task-sampler"))

    def test_the_next_epoch_s_first_tasks_are_handed_over_once(self):
        tasks = sampler(tasks_per_epoch=2)
        self.assertIsNone(tasks.prefetched(1))
        tasks.prefetch(1)
        self.assertEqual(tasks.prefetched(1).result()[0][:2], (2, 32))
        self.assertIsNone(tasks.prefetched(1))

    def test_tasks_drawn_for_another_epoch_are_dropped(self):
        tasks = sampler(tasks_per_epoch=2)
        tasks.prefetch(1)
        self.assertIsNone(tasks.prefetched(2))
        self.assertIsNone(tasks.prefetched(1))

    def test_one_task_is_given_to_the_one_replica_as_tensors(self):
        task = meta_training_tasks.TaskInputs(1, 2, 3.0, 4, 5.0, 6)
        inputs = sampler().distribute([task])
        self.assertIsInstance(inputs, meta_training_tasks.TaskInputs)
        self.assertTrue(all(isinstance(x, tf.Tensor) for x in inputs))
        self.assertEqual([x.numpy() for x in inputs], list(task))
        self.assertEqual(inputs.num_examples.numpy(), 5.0)


if __name__ == "__main__":
    tf.test.main()
