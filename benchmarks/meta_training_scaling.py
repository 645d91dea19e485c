"""Meta-training tasks per second on 1 device, 2 replicas and 2 workers.

    PYTHONPATH=. python benchmarks/meta_training_scaling.py  # configs/tiny.cfg

Runs `bin/meta_train` as a user does (`--flagfile`, for `--epochs` epochs
into a fresh folder, no held-out evaluation) in three arms, the same
config each:

* 1 device: the default strategy;
* mirrored: `--strategy=mirrored --cpu_devices=2`, one process whose CPU
  is split into 2 logical devices, one replica (one task at a time) each;
* 2 workers: `--strategy=multi_worker`, two processes on loopback ports
  (`TF_CONFIG` each), one replica each; worker 0 writes the logs.

Epoch times are read back from the TensorBoard logs as
`meta_training_speed.py` reads them (its `measure`). For each arm it
prints the process's wall time, its first epoch (which traces the inner
loop, once a replica), the median later epoch, tasks per second (C over
the median later epoch of a run, the median over --repeats runs) and that
rate against 1 device. The repeats run in rounds, each round every arm
once in turn, so that a change of load on a shared machine falls on all
arms alike.

What the figure can show on a machine of 2 CPU cores, as here: the
replicated code paths run end to end (the tasks spread over the
replicas, the all-reduce, the chief's checkpoints), and what replication
costs on top of the work: the replicas share the same 2 cores (and the
workers the same memory bandwidth) that the 1-device run already keeps
busy with its independent ops, so no speed-up is expected, and a ratio
below 1x is the price of the all-reduce, the replicas' extra traces and
thread contention. On a machine other jobs load, a ratio near or above
1x is no speed-up either: two processes' threads may just win more of
the cores from the other jobs than one process's. What it cannot show:
how meta-training scales with devices. That needs one device per
replica (a GPU each, or a machine each), where the inner loops of the
replicas' tasks run side by side and an epoch of C tasks takes
C / replicas task times plus the all-reduce.
"""

import argparse
import contextlib
import json
import os
import shlex
import socket
import statistics
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import meta_training_speed as speed  # noqa: E402

from base_tf import meta_training  # noqa: E402

ARMS = {
    "1 device": {"extra": [], "workers": 1, "replicas": 1},
    "mirrored x2": {
        "extra": ["--strategy=mirrored", "--cpu_devices=2"],
        "workers": 1,
        "replicas": 2,
    },
    "2 workers": {
        "extra": ["--strategy=multi_worker"],
        "workers": 2,
        "replicas": 2,
    },
}


def _free_ports(count):
    """`count` loopback ports free now, for the workers to listen on."""
    sockets = [socket.socket() for _ in range(count)]
    with contextlib.ExitStack() as stack:
        for s in sockets:
            stack.enter_context(s)
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]


@contextlib.contextmanager
def other_workers(workers, flagfile, epochs, output_dir, extra, log):
    """Starts workers 1.. of a `workers`-process cluster on loopback and,
    while the block runs, sets this process's `TF_CONFIG` to worker 0's, so
    that the run the block starts (`speed.run_meta_training`, which passes
    on the environment) is worker 0, the chief. Each worker is given the
    same flags and folder, as on several machines. Afterwards the other
    workers are waited for (killed if worker 0 failed); their output goes
    to `log`, shown if one of them failed. One worker: nothing to do."""
    if workers == 1:
        yield
        return
    cluster = {"worker": [f"127.0.0.1:{p}" for p in _free_ports(workers)]}

    def tf_config(index):
        task = {"type": "worker", "index": index}
        return json.dumps({"cluster": cluster, "task": task})

    command = [
        sys.executable, "-m", "bin.meta_train", f"--flagfile={flagfile}",
        f"--output_dir={output_dir}", f"--epochs={epochs}", "--eval_tasks=0",
        *extra,
    ]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": speed.ROOT}
    processes = []
    with open(log, "w") as out:
        try:
            for index in range(1, workers):
                processes.append(
                    subprocess.Popen(
                        command,
                        cwd=speed.ROOT,
                        env={**env, "TF_CONFIG": tf_config(index)},
                        stdout=out,
                        stderr=subprocess.STDOUT,
                    )
                )
            os.environ["TF_CONFIG"] = tf_config(0)
            yield
            for process in processes:
                if process.wait(timeout=600):
                    out.flush()
                    with open(log) as failed:
                        tail = failed.read()[-3000:]
                    sys.exit(f"{' '.join(command)} (a worker) failed:\n{tail}")
        finally:
            os.environ.pop("TF_CONFIG", None)
            for process in processes:  # only if worker 0 failed or hung
                if process.poll() is None:
                    process.kill()
                    process.wait()


def measure_arm(flagfile, epochs, extra, workers, scratch, name):
    """One run of an arm, timed and read back by `speed.measure`."""
    # `measure` runs in `scratch/<name>0`: the other workers join it there.
    output_dir = os.path.join(scratch, f"{name}0")
    log = os.path.join(scratch, f"{name}_other_workers.log")
    with other_workers(workers, flagfile, epochs, output_dir, extra, log):
        run = speed.measure(
            flagfile, epochs, 1, extra, speed.ROOT, scratch, name
        )
    assert run["output_dir"] == output_dir, "measure's folders changed"
    return run


def summary(runs, tasks_per_epoch):
    """An arm's medians over its runs: of each run's wall time, first
    epoch, median later epoch and tasks per second at that epoch."""
    epochs = [
        statistics.median(e["seconds"] for e in run["later_epochs"])
        for run in runs
    ]
    return {
        "wall_s": statistics.median(r["walls"][0] for r in runs),
        "first_epoch_s": statistics.median(r["first_epochs"][0] for r in runs),
        "epoch_s": statistics.median(epochs),
        "tasks_per_s": statistics.median(tasks_per_epoch / e for e in epochs),
        "tasks_per_s_each_run": [tasks_per_epoch / e for e in epochs],
    }


def report(args, results, tasks_per_epoch):
    """The table, arms side by side, as lines."""
    base = results["1 device"]["tasks_per_s"]
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    lines = [
        "command: PYTHONPATH=. python benchmarks/meta_training_scaling.py "
        + shlex.join(sys.argv[1:]),
        f"bin/meta_train --flagfile={args.flagfile} --epochs={args.epochs} "
        f"--eval_tasks=0; {tasks_per_epoch} tasks an epoch; {args.repeats} "
        "run(s) an arm, in rounds; epochs after the first",
        f"{os.cpu_count()} CPU cores shared by every arm's replicas and "
        f"workers; load average at the end {load}",
        "",
        f"{'':31s}" + "".join(f"{name:>14s}" for name in results),
    ]

    def row(label, key, fmt):
        values = "".join(f"{r[key]:{fmt}}" for r in results.values())
        lines.append(f"{label:31s}{values}")

    replicas = "".join(f"{ARMS[name]['replicas']:14d}" for name in results)
    lines.append(f"{'replicas':31s}{replicas}")
    row("process wall time (s)", "wall_s", "14.1f")
    row("first epoch (s)", "first_epoch_s", "14.2f")
    row("later epoch (s), median", "epoch_s", "14.3f")
    row("tasks per second", "tasks_per_s", "14.2f")
    ratios = "".join(
        f"{r['tasks_per_s'] / base:13.2f}x" for r in results.values()
    )
    lines.append(f"{'  against 1 device':31s}{ratios}")
    lines += [
        "",
        "tasks per second of each run: "
        + "; ".join(
            f"{name} "
            + ", ".join(f"{v:.2f}" for v in r["tasks_per_s_each_run"])
            for name, r in results.items()
        ),
        "All arms share the same cores, so >1x is not expected: the ratio is",
        "what replication costs here, not how it scales with devices (under",
        "other jobs' load, more processes may also win more of the cores).",
    ]
    return lines


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--flagfile", default="configs/tiny.cfg")
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument(
        "--out", default="benchmarks/results/meta_training_scaling"
    )
    args = parser.parse_args()
    if args.epochs < 2:
        parser.error("--epochs must be 2 or more: the first traces.")
    runs = {name: [] for name in ARMS}
    with tempfile.TemporaryDirectory() as scratch:
        for r in range(args.repeats):
            folder = os.path.join(scratch, f"round{r}")
            os.makedirs(folder)
            for name, arm in ARMS.items():
                print(f"round {r + 1}/{args.repeats}: {name}", file=sys.stderr)
                runs[name].append(
                    measure_arm(
                        args.flagfile,
                        args.epochs,
                        arm["extra"],
                        arm["workers"],
                        folder,
                        name.replace(" ", "_"),
                    )
                )
        output_dir = runs["1 device"][0]["output_dir"]
        tasks_per_epoch = meta_training.read_config(output_dir).tasks_per_epoch
    results = {name: summary(r, tasks_per_epoch) for name, r in runs.items()}
    lines = report(args, results, tasks_per_epoch)
    print("\n".join(lines))
    os.makedirs(os.path.dirname(args.out) or ".", exist_ok=True)
    with open(args.out + ".txt", "w") as f:
        f.write("\n".join(lines) + "\n")
    with open(args.out + ".json", "w") as f:
        json.dump(
            {
                "settings": vars(args),
                "arms": ARMS,
                "tasks_per_epoch": tasks_per_epoch,
                "results": results,
                "runs": runs,
            },
            f,
            indent=1,
        )


if __name__ == "__main__":
    main()
