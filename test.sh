#!/usr/bin/env bash
# The test suite: sets up what is missing, checks formatting and lint with
# ruff, runs every test target with Bazel, then the tests that train a
# network again with oneDNN off. Extra arguments go to `bazel test` instead
# (e.g. ./test.sh //tests/data:all) and skip the second pass.
set -euo pipefail
cd "$(dirname "$0")"
tools/setup.sh
source .venv/bin/activate

echo "[test] ruff format --check && ruff check"
ruff format --check --quiet .
ruff check --quiet .

targets=("$@")
[[ ${#targets[@]} -gt 0 ]] || targets=(//...)
start=$SECONDS
rc=0
echo "[test] every test, with TensorFlow's default kernels for this CPU"
bazel test "${targets[@]}" || rc=$?
python tools/test_summary.py "$(bazel info bazel-testlogs 2>/dev/null)" \
  --seconds=$((SECONDS - start)) || true

# TensorFlow turns oneDNN on by default only on some x86 CPUs (AVX-512 and
# the like), and some kernels exist only under it. Whatever this CPU does by
# default, run the tests that differentiate or train a network again with
# oneDNN off, so that neither path can hide behind the other.
if [[ $# -eq 0 ]]; then
  start=$SECONDS
  echo "[test] //:training_tests again with oneDNN off (TF_ENABLE_ONEDNN_OPTS=0)"
  bazel test --test_env=TF_ENABLE_ONEDNN_OPTS=0 //:training_tests || rc=$?
  echo "[test] oneDNN off: $((SECONDS - start)) s"
fi
exit $rc
