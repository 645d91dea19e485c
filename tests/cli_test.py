"""bin/cli.py: what every binary does around its main, run as a program."""

import ast
import os
import re
import shutil
import subprocess
import sys
import tempfile
import textwrap

from absl.testing import absltest

_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_BINARIES = ("adapt", "classify", "export", "meta_train", "train")

# A line of TensorFlow's C++ log, in absl's format (`I0000 00:00:17.. 123
# port.cc:153] ...`) or TensorFlow's (`2025-01-01 12:00:00.0: I x.cc:3] ...`),
# or absl's notice that precedes them.
_TF_LOG_LINE = re.compile(
    r"^(?:[IWEF]\d{4} [\d:.]+ +\d+ \S+:\d+\]|\S+ [\d:.]+: [IWEF] \S+:\d+\]"
    r"|WARNING: All log messages before absl::InitializeLog)",
    re.MULTILINE,
)

# Runs one op, so TensorFlow starts its devices (and logs `cuInit` where
# CUDA libraries are installed but no GPU is).
_ONE_OP = """
import tensorflow as tf

def main(argv):
    print(float(tf.reduce_sum(tf.ones([4]))))
"""


def _run_program(body, *flags, home=None):
    """Runs `cli.run(main)` for a `main` of `body` in a new process.

    The environment is the test's, without TF_CPP_MIN_LOG_LEVEL (cli sets
    it), with oneDNN on: TensorFlow then logs its oneDNN notice at start on
    any x86 CPU, so there is always a start-up line to hide or show.
    """
    program = "from bin import cli\n" + textwrap.dedent(body)
    program += "\ncli.run(main)\n"
    env = dict(os.environ, PYTHONPATH=_ROOT, TF_ENABLE_ONEDNN_OPTS="1")
    env.pop("TF_CPP_MIN_LOG_LEVEL", None)
    if home is not None:
        env["HOME"] = home
        env.pop("MPLCONFIGDIR", None)
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

    def test_a_flag_absl_cannot_parse_is_one_line_and_exit_status_1(self):
        body = """
            from absl import flags

            flags.DEFINE_integer("epochs", 1, "Epochs.")
            flags.DEFINE_string("genotype", None, "Genotype.")
            cli.mark_required("genotype")

            def main(argv):
                raise AssertionError("a bad flag does not run main")
            """
        cases = (
            (
                ["--genotype=x", "--epochs=abc"],
                "-c: error: flag --epochs=abc: invalid literal for int() "
                "with base 10: 'abc' (--helpshort lists the flags).",
            ),
            (
                ["--epochs=2"],
                "-c: error: flag --genotype=None: Flag --genotype must "
                "have a value other than None. (--helpshort lists the "
                "flags).",
            ),
            (
                ["--genotype=x", "--epoch=2"],
                "-c: error: Unknown command line flag 'epoch'. Did you "
                "mean: epochs ? (--helpshort lists the flags).",
            ),
        )
        # A home whose config and cache folders cannot be made, as in
        # Bazel's sandbox: Matplotlib's warning about it is not a line.
        home = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, home)
        for name in (".config", ".cache"):
            with open(os.path.join(home, name), "w"):
                pass
        for flags, line in cases:
            with self.subTest(flags[-1]):
                result = _run_program(body, *flags, home=home)
                self.assertEqual(result.returncode, 1)
                self.assertEqual(result.stderr, line + "\n")

    def test_tensorflow_lines_are_hidden_by_default(self):
        result = _run_program(_ONE_OP)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(result.stdout, "4.0\n")
        self.assertIsNone(_TF_LOG_LINE.search(result.stderr), result.stderr)
        for noise in ("cuInit", "oneDNN", "This TensorFlow binary", "cuda"):
            self.assertNotIn(noise, result.stderr)

    def test_tf_logs_in_a_flagfile_brings_them_back(self):
        # A flagfile, read before TensorFlow starts as absl reads it.
        with tempfile.NamedTemporaryFile("w", suffix=".cfg") as flagfile:
            flagfile.write("# TensorFlow's own lines too\n--tf_logs\n")
            flagfile.flush()
            result = _run_program(_ONE_OP, f"--flagfile={flagfile.name}")
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(result.stdout, "4.0\n")
        self.assertIn("oneDNN custom operations are on", result.stderr)
        self.assertRegex(result.stderr, _TF_LOG_LINE)

    def test_helpfull_exits_0_and_marks_required_flags(self):
        result = _run_program(
            """
            from absl import flags

            flags.DEFINE_string("model_dir", None, "Folder of the model.")
            cli.mark_required("model_dir")

            def main(argv):
                raise AssertionError("help does not run main")
            """,
            "--helpfull",
        )
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn(
            "--model_dir: (required) Folder of the model.", result.stdout
        )
        self.assertIn(
            "--[no]tf_logs: Show TensorFlow's own lines", result.stdout
        )
        self.assertIsNone(_TF_LOG_LINE.search(result.stderr), result.stderr)

    def test_every_binary_imports_cli_first(self):
        # cli must settle TensorFlow's logging before TensorFlow is imported.
        paths = [os.path.join(_ROOT, "bin", f"{b}.py") for b in _BINARIES]
        missing = [p for p in paths if not os.path.exists(p)]
        if missing:  # Under Bazel: only what `data` names is in runfiles.
            self.skipTest(
                f"the binaries' sources are not beside the test ({missing}); "
                "add //bin:adapt_lib, //bin:classify, //bin:export_lib, "
                "//bin:meta_train_lib and //bin:train_lib to its data"
            )
        for path in paths:
            with open(path) as f:
                tree = ast.parse(f.read())
            first = next(
                node
                for node in tree.body
                if isinstance(node, (ast.Import, ast.ImportFrom))
            )
            self.assertIsInstance(first, ast.ImportFrom, path)
            self.assertEqual(
                (first.module, [a.name for a in first.names]),
                ("bin", ["cli"]),
                f"{path}: its first import must be `from bin import cli`",
            )


if __name__ == "__main__":
    absltest.main()
