#!/usr/bin/env bash
# The main job, end to end, on the default configs: sets up what is
# missing, then runs the whole BASE pipeline with the real binaries:
#
#   1. meta-train a tiny prior on MNIST + Fashion-MNIST (configs/tiny.cfg)
#   2. adapt it to CIFAR-10, unseen, and derive the genotype
#      (configs/adapt_tiny.cfg)
#   3. train the derived network on CIFAR-10 (configs/train_tiny.cfg)
#   4. export it as a TF Serving SavedModel (a new version each run)
#   5. load the SavedModel and classify real CIFAR-10 test images
#
# Every step resumes or reuses what an earlier run finished. Extra
# arguments go to step 1 (e.g. ./run.sh --epochs=8).
set -euo pipefail
cd "$(dirname "$0")"
tools/setup.sh
source .venv/bin/activate

adapted=runs/tiny_cifar10
step() { echo; echo "== $1"; }
run() { bazel run --ui_event_filters=-info,-stdout,-stderr --noshow_progress "$@"; }

start=$SECONDS
step "1/5 meta-train (configs/tiny.cfg)"
run //bin:meta_train -- --flagfile=configs/tiny.cfg "$@"
step "2/5 adapt to CIFAR-10 and derive the genotype"
run //bin:adapt -- --flagfile=configs/adapt_tiny.cfg
step "3/5 train the derived network"
run //bin:train -- --flagfile=configs/train_tiny.cfg \
  --genotype="$adapted/genotype.json" --output_dir="$adapted/train"
step "4/5 export for TF Serving"
run //bin:export -- --model_dir="$adapted/train" \
  --export_base="$adapted/serving"
step "5/5 classify CIFAR-10 test images with the SavedModel"
run //bin:classify -- --saved_model="$adapted/serving" --dataset=cifar10 \
  --num_images=8
echo
echo "pipeline done in $((SECONDS - start)) s; results in runs/tiny and $adapted"
