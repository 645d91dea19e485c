#!/usr/bin/env bash
# The test suite: sets up what is missing, checks formatting and lint with
# ruff, then runs every test target with Bazel. Extra arguments go to
# `bazel test` (e.g. ./test.sh //tests/data:all).
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
bazel test "${targets[@]}" || rc=$?
python tools/test_summary.py "$(bazel info bazel-testlogs 2>/dev/null)" \
  --seconds=$((SECONDS - start)) || true
exit $rc
