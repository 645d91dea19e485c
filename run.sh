#!/usr/bin/env bash
# The main job, end to end, on the default config (configs/tiny.cfg): sets
# up what is missing, then runs `bazel run //bin:meta_train`. Extra
# arguments are passed to it as flags (e.g. ./run.sh --seed=3).
set -euo pipefail
cd "$(dirname "$0")"
tools/setup.sh
source .venv/bin/activate
exec bazel run //bin:meta_train -- --flagfile=configs/tiny.cfg "$@"
