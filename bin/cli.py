"""What every base-tf binary does around its `main`, and the flags for it.

A binary imports this module first, before TensorFlow and base_tf (then an
`# isort: split` line keeps the formatter from moving it): TensorFlow
prints its start-up lines while it is imported, so what to show must be
settled before that, and this module settles it, then imports TensorFlow.

What a binary prints: its own lines, warnings and errors. TensorFlow's own
lines are hidden unless --tf_logs is given:

- C++ log lines (CPU features, oneDNN, `failed call to cuInit`, the
  cloud-storage credentials probe, ...): TF_CPP_MIN_LOG_LEVEL=3, set before
  TensorFlow starts unless the environment sets it already.
- The lines TensorFlow's libraries write while they load, which no log
  level silences (`Could not find cuda drivers`, absl's "All log messages
  before absl::InitializeLog()"): the import runs with the process's
  stderr captured, and only lines that match `_STARTUP_NOISE` are dropped;
  anything else captured is written out after the import.
- TensorFlow's Python log below ERROR, and TFDS's and keras-tuner's (absl
  logging) below ERROR unless --verbosity is given.
- Matplotlib's warnings below ERROR (when the home folder is not
  writable, as in Bazel's test sandbox, it says so at import and makes a
  temporary cache; the plots are unaffected), whatever --tf_logs says.
- DeprecationWarning, PendingDeprecationWarning and FutureWarning raised
  in TensorFlow, Keras, TFP, TFDS or keras-tuner (those libraries' own
  upkeep, not the user's to act on).

--tf_logs must be known before TensorFlow is imported, that is before absl
parses the flags (the binaries' flags are defined with base_tf's defaults,
which import TensorFlow). So `tf_logs_requested` reads it here, at import,
from the command line and the --flagfile files it names, as absl will;
absl then parses it with the other flags. That is the one flag read early.
"""

import logging as python_logging
import os
import re
import sys
import tempfile
import warnings

from absl import app, flags, logging

from base_tf import progress

flags.DEFINE_integer(
    "inter_op_threads",
    0,
    "Threads that run independent ops side by side (0: TensorFlow's choice).",
)
flags.DEFINE_integer(
    "intra_op_threads",
    0,
    "Threads one op may use (0: TensorFlow's choice). The supernet is many "
    "small independent ops: on a CPU, 1 was 1.0x-1.3x faster "
    "(benchmarks/inner_loop_speed.py).",
)
flags.DEFINE_boolean(
    "tf_logs",
    False,
    "Show TensorFlow's own lines: its C++ logs (start-up probes of CUDA and "
    "the CPU, oneDNN, cloud credentials, ...), its Python log and the "
    "deprecation warnings of TensorFlow and its libraries. Hidden by "
    "default. Read before TensorFlow starts, from the command line or a "
    "--flagfile.",
)

_INPUT_ERRORS = (
    ValueError,
    FileExistsError,
    FileNotFoundError,
    FloatingPointError,
)

# Lines TensorFlow 2.21's libraries print while they load, whatever
# TF_CPP_MIN_LOG_LEVEL says: absl's notice before its log is set up, the
# CUDA runtime probe (once for each library that links it), the CPU feature
# notice and its second line, the oneDNN notice, and on GPU wheels the
# cuFFT/cuDNN/cuBLAS "Unable to register ... factory" lines (TensorFlow
# issue 100442). In absl's format (`I0000 00:00:...  123 file.cc:31] ...`)
# or TensorFlow's (`2025-01-01 12:00:00.000000: I path/file.cc:31] ...`).
_STARTUP_NOISE = re.compile(
    r"WARNING: All log messages before absl::InitializeLog\(\) is called"
    r"|To enable the following instructions: .* rebuild TensorFlow"
    r"|(?:[IWE]\d{4} [\d:.]+ +\d+ |\S+ [\d:.]+: [IWE] \S*?)"
    r"(?:cudart_stub\.cc:\d+\] Could not find cuda drivers"
    r"|cpu_feature_guard\.cc:\d+\] This TensorFlow binary is optimized"
    r"|port\.cc:\d+\] oneDNN custom operations are on"
    r"|cuda_(?:fft|dnn|blas)\.cc:\d+\] Unable to register cu\w+ factory)"
)

# Warnings these libraries raise about their own upkeep: hidden.
_QUIET_LIBRARIES = (
    r"(tensorflow|tf_keras|keras|tensorflow_probability|tensorflow_datasets"
    r"|keras_tuner)(\.|$)"
)
_LIBRARY_UPKEEP = (DeprecationWarning, PendingDeprecationWarning, FutureWarning)


def tf_logs_requested(argv):
    """Whether `argv` (without the program name) asks for --tf_logs.

    Flagfiles are expanded as absl expands them, relative to the folder the
    binary was called from (see `run`); the last setting wins. A flagfile
    that cannot be read counts as no --tf_logs: absl reports it when it
    parses the flags.
    """
    here = os.getcwd()
    try:
        os.chdir(os.environ.get("BUILD_WORKING_DIRECTORY", here))
        argv = flags.FLAGS.read_flags_from_files(argv, force_gnu=False)
    except (flags.Error, OSError):
        pass
    finally:
        os.chdir(here)
    requested = False
    for arg in argv:
        if arg == "--":
            break
        if not arg.startswith("-"):
            continue
        name, equals, value = arg.lstrip("-").partition("=")
        if name == "tf_logs":
            requested = not equals or value.lower() in ("true", "t", "1")
        elif name == "notf_logs":
            requested = False
    return requested


def _import_tensorflow_quietly():
    """Imports TensorFlow, hiding its start-up lines (see the module doc)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    python_logging.getLogger("tensorflow").setLevel(python_logging.ERROR)
    for category in _LIBRARY_UPKEEP:
        warnings.filterwarnings(
            "ignore", category=category, module=_QUIET_LIBRARIES
        )
    sys.stderr.flush()
    stderr = os.dup(2)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            import tensorflow  # noqa: F401
        finally:
            sys.stderr.flush()
            os.dup2(stderr, 2)
            os.close(stderr)
            captured.seek(0)
            text = captured.read().decode(errors="replace")
            for line in text.splitlines(keepends=True):
                if not _STARTUP_NOISE.match(line):
                    sys.stderr.write(line)
            sys.stderr.flush()


python_logging.getLogger("matplotlib").setLevel(python_logging.ERROR)
TF_LOGS = tf_logs_requested(sys.argv[1:])
if not TF_LOGS:
    _import_tensorflow_quietly()


class _HelpExitsZero:
    """absl's help flags print the help, then exit 1; asking is no error."""

    def parse(self, argument):
        try:
            super().parse(argument)
        except SystemExit:  # Raised only after the help was printed.
            sys.exit(0)


def _define_help_flags():
    """absl's --help, --helpshort, --helpfull, --helpxml, exiting 0."""
    app.define_help_flags()
    for absl_flag in (
        app.HelpFlag,
        app.HelpshortFlag,
        app.HelpfullFlag,
        app.HelpXMLFlag,
    ):
        flag = type(absl_flag.__name__, (_HelpExitsZero, absl_flag), {})()
        for name in (flag.name, flag.short_name):
            if name:
                delattr(flags.FLAGS, name)
        flags.DEFINE_flag(flag, module_name=app.__name__)


def mark_required(*names):
    """Flags a binary cannot run without.

    absl refuses to start without them; its help does not say so, so their
    help text starts with "(required)".
    """
    for name in names:
        flags.FLAGS[name].help = "(required) " + flags.FLAGS[name].help
    flags.mark_flags_as_required(names)


def _program_name():
    """The binary's name for its error lines: `train` for bin/train.py."""
    return os.path.basename(sys.argv[0]).removesuffix(".py")


def _parse_flags(argv):
    """absl's flag parsing, a bad flag refused in one line.

    absl's own parser writes "FATAL Flags parsing error: ..." and a second
    line about --helpshort; here it is one line, as other input errors
    end, with the same exit status 1.
    """
    try:
        return flags.FLAGS(argv)
    except flags.Error as error:
        message = " ".join(str(error).split())
        print(
            f"{_program_name()}: error: {message} (--helpshort lists the "
            "flags).",
            file=sys.stderr,
        )
        sys.exit(1)


def phase(text):
    """Prints `text ...`, then on the same line the seconds the block took:
    progress for a step that shows none of its own."""
    return progress.phase(text)


def run(main):
    """Runs `main` with absl, relative paths taken from the caller's folder.

    `bazel run` starts a binary inside its runfiles tree; it names the folder
    the user called it from in BUILD_WORKING_DIRECTORY. Moving there first
    makes `--flagfile=configs/tiny.cfg`, `--output_dir=runs/x` and image
    folders mean what they mean in the user's shell. Imports are unaffected:
    the runfiles are already on `sys.path`.

    Errors of input (a `ValueError` such as `DataError`, a file that is
    missing or already there, a diverging run) end the program with their
    message on one line and exit status 1; --verbosity=1 adds the
    traceback. So does a flag absl cannot parse (`_parse_flags`). --help,
    --helpshort and --helpfull exit 0.

    Threads: --inter_op_threads and --intra_op_threads are set before any
    TensorFlow op runs; they size the host's thread pools and do not choose
    a device.

    Logging: warnings and errors only, unless --verbosity is given (TF and
    TFDS otherwise log a line for every checkpoint and dataset read, which
    buries the progress bar); without --tf_logs, errors only from
    TensorFlow and the libraries that log through absl (see the module
    doc).
    """
    import tensorflow as tf  # Imported already, quietly unless --tf_logs.

    os.chdir(os.environ.get("BUILD_WORKING_DIRECTORY", os.getcwd()))
    _define_help_flags()

    def quiet_main(argv):
        if not flags.FLAGS["verbosity"].present:
            level = "warning" if TF_LOGS else "error"
            logging.set_verbosity(level)
            for name in ("tensorflow", "absl"):
                python_logging.getLogger(name).setLevel(level.upper())
        tf.config.threading.set_inter_op_parallelism_threads(
            flags.FLAGS.inter_op_threads
        )
        tf.config.threading.set_intra_op_parallelism_threads(
            flags.FLAGS.intra_op_threads
        )
        try:
            if flags.FLAGS.tf_logs != TF_LOGS:  # Read early unlike absl.
                raise ValueError(
                    "--tf_logs is read before TensorFlow starts, from the "
                    "command line and its flagfiles: give it there."
                )
            return main(argv)
        except _INPUT_ERRORS as e:
            if logging.get_verbosity() >= logging.INFO:
                raise
            print(f"{_program_name()}: error: {e}", file=sys.stderr)
            sys.exit(1)

    app.run(quiet_main, flags_parser=_parse_flags)
