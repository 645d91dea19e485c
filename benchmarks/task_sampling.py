"""Task sampling from a materialised split against TFDS random access.

    python benchmarks/task_sampling.py    # from the repo root

Draws K-class tasks of Tiny-ImageNet (`tiny_imagenet`, prepared with its
ArrayRecord copy by `python -m base_tf.data.prepare tiny_imagenet` or
tools/setup.sh) at 64x64 two ways, each in processes of its own so that
their peak memory is their own:

* in memory: the first task decodes and resizes the whole train split
  (`Source.materialize`), later tasks gather rows of that array;
* random access: a task reads, decodes and resizes only its own examples
  through TFDS's ArrayRecord data source (`random_access.RandomAccessSplit`).

Prints, side by side, medians over --repeats processes: the time to the
first task, the median time of the next --tasks tasks, the process's peak
resident memory (ru_maxrss) and that peak above the process's RSS once
TensorFlow and base_tf are imported (what the data costs).
"""

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time

MODES = ("in_memory", "random_access")


def _rss_mb():
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    return pages * resource.getpagesize() / 2**20


def _peak_rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**10


def child(args):
    """One process, one mode: prints its figures as a JSON line."""
    from base_tf import data

    baseline = _rss_mb()
    source = data.TfdsSource(
        "tiny_imagenet",
        data_dir=args.data_dir,
        random_access=args.child == "random_access",
    )
    tasks = data.TaskDistribution(
        [source],
        num_classes=args.num_classes,
        config=data.TaskConfig(
            data.ImageSpec(args.image_size, args.image_size, 3),
            train_per_class=args.train_per_class,
            val_per_class=args.val_per_class,
        ),
        seed=args.seed,
    )
    start = time.perf_counter()
    tasks.sample(0)
    first = time.perf_counter() - start
    times = []
    for index in range(1, args.tasks + 1):
        start = time.perf_counter()
        task = tasks.sample(index)
        times.append(time.perf_counter() - start)
    peak = _peak_rss_mb()
    print(
        json.dumps(
            {
                "first_task_s": first,
                "next_task_s": statistics.median(times),
                "peak_rss_mb": peak,
                "data_rss_mb": peak - baseline,
                "train_examples": source.num_examples("train"),
                "task_examples": task.num_train + task.num_val,
            }
        )
    )


def _run_child(mode, args):
    command = [sys.executable, __file__, f"--child={mode}"] + [
        f"--{name}={getattr(args, name)}"
        for name in (
            "num_classes",
            "image_size",
            "train_per_class",
            "val_per_class",
            "tasks",
            "seed",
        )
    ]
    if args.data_dir:
        command.append(f"--data_dir={args.data_dir}")
    out = subprocess.run(
        command, check=True, capture_output=True, text=True
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--tasks", type=int, default=20)
    parser.add_argument("--num_classes", type=int, default=10)
    parser.add_argument("--image_size", type=int, default=64)
    parser.add_argument("--train_per_class", type=int, default=50)
    parser.add_argument("--val_per_class", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data_dir", default=None)
    parser.add_argument("--child", choices=MODES, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args)

    runs = {mode: [] for mode in MODES}
    for _ in range(args.repeats):
        for mode in MODES:  # Interleaved: both see the same machine load.
            runs[mode].append(_run_child(mode, args))
    med = {
        mode: {
            key: statistics.median(run[key] for run in runs[mode])
            for key in runs[mode][0]
        }
        for mode in MODES
    }
    size = args.image_size
    lines = [
        f"Tiny-ImageNet train split ({med['in_memory']['train_examples']:,.0f}"
        f" examples), {args.num_classes}-class tasks at {size}x{size}x3, "
        f"{args.train_per_class} train + {args.val_per_class} val examples a "
        f"class ({med['in_memory']['task_examples']:.0f} a task); medians of "
        f"{args.repeats} processes each, next-task time the median of "
        f"{args.tasks} tasks.",
        "",
        f"{'':34}{'in memory':>14}{'random access':>16}",
    ]
    rows = (
        ("first task (s)", "first_task_s", "{:.2f}"),
        ("next task, median (s)", "next_task_s", "{:.3f}"),
        ("peak RSS (MB)", "peak_rss_mb", "{:.0f}"),
        ("peak RSS above imports (MB)", "data_rss_mb", "{:.0f}"),
    )
    for label, key, fmt in rows:
        lines.append(
            f"{label:34}{fmt.format(med['in_memory'][key]):>14}"
            f"{fmt.format(med['random_access'][key]):>16}"
        )
    print("\n".join(lines))


if __name__ == "__main__":
    main()
