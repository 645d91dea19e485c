#!/usr/bin/env bash
# The main job, end to end, on the default configs: sets up what is
# missing, then runs the whole BASE pipeline with the real binaries,
# `bazel run //:pipeline` (its steps are listed in tools/pipeline.sh):
# meta-train a tiny prior on MNIST + Fashion-MNIST, adapt it to unseen
# CIFAR-10 and derive the genotype, train the derived network, export it
# for TF Serving, classify real CIFAR-10 test images with the SavedModel.
#
# Every step resumes or reuses what an earlier run finished; results go to
# runs/tiny and runs/tiny_cifar10. Extra arguments go to the meta-training
# step (e.g. ./run.sh --epochs=8).
set -euo pipefail
cd "$(dirname "$0")"
tools/setup.sh
source .venv/bin/activate

bazel run --ui_event_filters=-info,-stdout,-stderr --noshow_progress \
  //:pipeline -- "$@"
