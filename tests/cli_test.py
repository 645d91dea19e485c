"""bin/cli.py: what every binary does around its main, run as a program."""

import os
import subprocess
import sys
import textwrap

from absl.testing import absltest

_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _run_program(body, *flags):
    """Runs `cli.run(main)` for a `main` of `body` in a new process."""
    program = "from bin import cli\n" + textwrap.dedent(body)
    program += "\ncli.run(main)\n"
    env = dict(os.environ, PYTHONPATH=_ROOT, TF_CPP_MIN_LOG_LEVEL="3")
    return subprocess.run(
        [sys.executable, "-c", program, *flags],
        capture_output=True,
        text=True,
        env=env,
        cwd=_ROOT,
        timeout=120,
    )


class CliTest(absltest.TestCase):
    def test_thread_flags_size_the_thread_pools(self):
        result = _run_program(
            """
            import tensorflow as tf

            def main(argv):
                threading = tf.config.threading
                print(threading.get_inter_op_parallelism_threads(),
                      threading.get_intra_op_parallelism_threads())
                print(float(tf.reduce_sum(tf.ones([4]))))
            """,
            "--inter_op_threads=3",
            "--intra_op_threads=1",
        )
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(result.stdout.split(), ["3", "1", "4.0"])

    def test_input_error_is_one_line_and_exit_status_1(self):
        result = _run_program(
            """
            def main(argv):
                raise ValueError("--batch_size must be positive, got -1.")
            """
        )
        self.assertEqual(result.returncode, 1)
        self.assertEqual(
            result.stderr.strip().splitlines()[-1],
            "-c: error: --batch_size must be positive, got -1.",
        )
        self.assertNotIn("Traceback", result.stderr)


if __name__ == "__main__":
    absltest.main()
