"""How far does q(z|D) concentrate, and does the cell follow the data?

    PYTHONPATH=. python benchmarks/adaptation_sweep.py      # ~30 min

From the meta-trained priors of `search_quality.py`'s `full` variant
(pipeline seeds 0-2; meta-trained first if its cache is empty), adapts to
5-class tasks of CIFAR-10 and of Fashion-MNIST for several lengths T',
at two temperatures (meta-training's last, 0.2, and 1) and with and
without a weight warm-up (`AdaptationConfig.arch_warmup`, the first half
of the steps with the logits held still). For each: q(z|D)'s mean
relative entropy over edges (1 = uniform), the validation accuracy of its
mode architecture, whether the derived cell collapsed (no path through an
op with weights) and whether CIFAR-10 and Fashion-MNIST derive different
cells from the same prior. Nothing is trained here: the cells' accuracy
is `search_quality.py`'s job.

Results go to benchmarks/results/adaptation_sweep.{json,txt}.
"""

import argparse
import itertools
import json
import os
import statistics as stats
import sys
import warnings

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import search_quality as sq  # noqa: E402

from base_tf import search_space  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--steps", default="20,100,200,400")
    parser.add_argument("--temperatures", default="0.2,1.0")
    parser.add_argument("--warmups", default="0,0.5")
    parser.add_argument(
        "--arch_learning_rates",
        default="",
        help="eta for the logits at adaptation ('' : meta-training's)",
    )
    parser.add_argument("--targets", default="cifar10,fashion_mnist")
    parser.add_argument("--work_dir", default="runs/search_quality")
    parser.add_argument("--out", default="benchmarks/results/adaptation_sweep")
    args = parser.parse_args()
    warnings.filterwarnings("ignore", message="Gradients do not exist")
    # search_quality's defaults, so that its cached meta-training runs
    # (and its `full` priors) are the ones adapted here.
    harness = sq.parse_args([f"--work_dir={args.work_dir}"])
    free = sq.parameter_free_ops(harness.space)
    cell_type = search_space.get_space(harness.space).cell_types[0]
    targets = args.targets.split(",")
    rows, lines = [], []

    def log(text):
        print(text, flush=True)
        lines.append(text)

    log(f"settings: {json.dumps(vars(args), sort_keys=True)}")
    for seed in map(int, args.seeds.split(",")):
        prior, _, _ = sq.meta_trained_prior(harness, "full", seed)
        for rate, temperature, warmup, steps, target in itertools.product(
            [float(r) for r in args.arch_learning_rates.split(",") if r]
            or [None],
            map(float, args.temperatures.split(",")),
            map(float, args.warmups.split(",")),
            map(int, args.steps.split(",")),
            targets,
        ):
            harness.adapt_temperature = temperature
            harness.arch_warmup = warmup
            harness.adapt_arch_learning_rate = rate
            cell = sq.adapt_cell(prior, harness, steps, seed, target)
            genotype = search_space.genotype_from_json(cell["genotype"])
            cell.update(
                seed=seed,
                target=target,
                arch_learning_rate=rate,
                temperature=temperature,
                warmup=warmup,
                collapsed=not sq.has_parametric_path(genotype, free, cell_type),
            )
            rows.append(cell)
            log(
                f"seed {seed} eta_phi {rate} tau {temperature} warmup {warmup} "
                f"T' {steps} "
                f"{target}: rel. entropy {cell['relative_entropy']:.3f}, "
                f"val acc {cell['val_accuracy']:.3f}"
                f"{' COLLAPSED' if cell['collapsed'] else ''}  {cell['arch']}"
            )
    log(
        "\nMedians over seeds; 'differ': seeds whose CIFAR-10 and "
        "Fashion-MNIST cells differ; 'collapsed': cells without a path "
        "through an op with weights, of all seeds and targets.\n"
    )
    header = "| eta_phi | tau | warm-up | T' |"
    for target in targets:
        header += f" {target} rel. entropy | {target} val acc |"
    log(header + " differ | collapsed |")
    log("|---" * (header.count("|") + 1) + "|")
    groups = {}
    for row in rows:
        key = (
            row["arch_learning_rate"],
            row["temperature"],
            row["warmup"],
            row["steps"],
        )
        groups.setdefault(key, []).append(row)
    for (rate, temperature, warmup, steps), group in groups.items():
        eta = "default" if rate is None else f"{rate:g}"
        line = f"| {eta} | {temperature:g} | {warmup:g} | {steps} |"
        for target in targets:
            of = [r for r in group if r["target"] == target]
            line += (
                f" {stats.median(r['relative_entropy'] for r in of):.3f} |"
                f" {stats.median(r['val_accuracy'] for r in of):.3f} |"
            )
        by_seed = {}
        for r in group:
            by_seed.setdefault(r["seed"], set()).add(r["arch"])
        differ = sum(len(archs) > 1 for archs in by_seed.values())
        collapsed = sum(r["collapsed"] for r in group)
        line += f" {differ}/{len(by_seed)} | {collapsed}/{len(group)} |"
        log(line)
    os.makedirs(os.path.dirname(args.out) or ".", exist_ok=True)
    with open(args.out + ".json", "w") as f:
        json.dump({"settings": vars(args), "rows": rows}, f, indent=1)
    with open(args.out + ".txt", "w") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
