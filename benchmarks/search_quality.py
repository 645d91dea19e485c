"""Is the derived cell better than a random one? BASE's search, measured.

    PYTHONPATH=. python benchmarks/search_quality.py             # 1 seed
    PYTHONPATH=. python benchmarks/search_quality.py --quick     # smoke run
    PYTHONPATH=. python benchmarks/search_quality.py \\
        --variants=full,no_kl,point_weights,hard,no_meta --seeds=0,1,2

In the NAS-Bench-201 space, for each pipeline seed and each variant of the
method (`VARIANTS`, the ablations):

1. meta-train a supernet on 5-class tasks of ImageNet classes
   (Tiny-ImageNet without the classes that overlap CIFAR-10's; CIFAR-10 is
   never seen);
2. adapt the meta-trained prior to a CIFAR-10 task with `--adapt_steps`
   inner steps and derive the cell; also derive the zero-shot cell of the
   prior alone (0 steps) and, for reference, the cells the same inner loop
   finds from the untrained W_0 with the same steps and with 10x the steps;
3. train every derived cell, and `--num_random` uniformly random cells,
   from scratch with one fixed short recipe on CIFAR-10 (`RECIPE`), over
   `--train_seeds` training seeds, and rank each derived cell among the
   random ones by mean test accuracy.

The recipe, and why: the NAS-Bench-201 network at reduced width and depth
(C=8, one cell a stage: 3 searched cells, 2 residual reductions), trained
on 5,000 CIFAR-10 training images at 16x16 (the size meta-training and
adaptation use) for 8 epochs with SGD (momentum 0.9, learning rate 0.05
cosine-decayed to 0, weight decay 5e-4, batch 64; pad-and-crop and flips)
and tested on 2,000 test images. NAS-Bench-201 trains its cells the same
way (SGD, cosine, weight decay 5e-4, no cutout, no drop-path) for 200
epochs at 32x32; this is the largest version of it that trains a cell in
about a minute on 2 CPU cores, so that ten random cells and the searched
ones fit in the harness's two hours. What a short recipe can show: the
order of clearly different cells (none or one convolution against
several), not the order of near-optimal ones.

Every trained cell is a `training.train` run folder under `--work_dir`
(keyed by architecture, recipe and seed), so a rerun, or another variant
that derives the same cell, reuses it; meta-training runs resume likewise.
Results go to `--out` (.json with every figure, .txt with the tables).
"""

import argparse
import dataclasses
import hashlib
import json
import os
import statistics as stats
import sys
import time
import warnings

import keras
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from base_tf import (  # noqa: E402
    adaptation,
    data,
    derivation,
    meta_training,
    search_space,
    training,
)
from base_tf.inference import statistics  # noqa: E402
from base_tf.search_space import cell_graph  # noqa: E402

# Per space: the supernet's and the trained network's cells, and the
# published genotypes trained beside the searched ones.
SPACES = {
    "nas_bench_201": {"num_cells": 1, "published": ()},
    "darts": {"num_cells": 5, "published": ("DARTS_V2", "CIFAR_TUNED")},
}

# The method's variants: MetaTrainingConfig fields over `meta_config`'s.
# "full" is BASE as shipped (relaxed samples at temperature 1, SGD on the
# logits at 2.0); the rest change one lever, or two, and name their sample
# kind so that they keep their meaning if the defaults change.
VARIANTS = {
    "full": {},
    # Hard samples (one-hot, straight-through), temperature 1 -> 0.2, SGD on
    # the logits at 0.5: the library's default until the 5 seeds of the
    # README's "Search quality" measured it against relaxed samples.
    "hard": {
        "arch_sample": "hard",
        "final_temperature": 0.2,
        "arch_learning_rate": 0.5,
    },
    # Hard samples whose gradient reaches only the sampled op (GDAS's
    # estimator; `inference.straight_through`).
    "gdas": {
        "arch_sample": "gdas",
        "final_temperature": 0.2,
        "arch_learning_rate": 0.5,
    },
    # ... with a preconditioned step for the logits, whose gradient through
    # the sampled op alone is small (rms 0.003-0.06 at W_0).
    "gdas_adam": {
        "arch_sample": "gdas",
        "arch_optimizer": "adam",
        "arch_learning_rate": 0.1,
        "final_temperature": 0.2,
    },
    # A preconditioned step for the logits: Adam, step size 0.1.
    "adam": {
        "arch_sample": "hard",
        "arch_optimizer": "adam",
        "arch_learning_rate": 0.1,
        "final_temperature": 0.2,
    },
    # Hard samples with the temperature held at 1 (at 0.2 the logits'
    # gradient is 3.5x noisier: benchmarks/results/gradient_snr.txt).
    "hard_t1": {
        "arch_sample": "hard",
        "final_temperature": 1.0,
        "arch_learning_rate": 0.5,
    },
    "adam_relaxed_t1": {
        "arch_sample": "relaxed",
        "arch_optimizer": "adam",
        "arch_learning_rate": 0.1,
        "final_temperature": 1.0,
    },
    "no_kl": {"kl_architecture": 0.0, "kl_weights": 0.0},
    # Point-estimate weights: sigma tiny and frozen, no weight KL.
    "point_weights": {
        "prior_sigma": 1e-4,
        "rho_learning_rate": 0.0,
        "kl_weights": 0.0,
    },
    # No meta-training: adaptation runs from W_0.
    "no_meta": {},
}

# Meta-training datasets (CIFAR-10 is the unseen target): ImageNet classes,
# as the paper meta-trains on, without those that overlap CIFAR-10's.
META_DATASETS = ("tiny_imagenet",)
HELD_OUT_CLASSES = {"tiny_imagenet": data.tiny_imagenet.CIFAR10_OVERLAP}
TARGET = "cifar10"


def recipe(args, seed):
    return training.TrainingConfig(
        epochs=args.train_epochs,
        batch_size=64,
        learning_rate=0.05,
        momentum=0.9,
        weight_decay=5e-4,
        grad_clip=5.0,
        auxiliary_weight=0.0,
        drop_path=0.0,
        cutout=0,
        augment=True,
        seed=seed,
        max_train_examples=args.train_examples,
        max_test_examples=args.test_examples,
    )


def meta_config(args, variant, seed):
    base = meta_training.MetaTrainingConfig(
        search_space=args.space,
        channels=8,
        num_cells=SPACES[args.space]["num_cells"],
        num_classes=5,
        image_size=args.image_size,
        epochs=args.meta_epochs,
        tasks_per_epoch=4,
        inner_steps=args.inner_steps,
        batch_size=16,
        seed=seed,
        **json.loads(args.method),
    )
    return dataclasses.replace(base, **VARIANTS[variant])


def task_distribution(config, args):
    return data.TaskDistribution(
        list(args.meta_datasets.split(",")),
        num_classes=config.num_classes,
        config=data.TaskConfig(
            data.ImageSpec(config.image_size, config.image_size, 3),
            train_per_class=50,
            val_per_class=20,
        ),
        seed=config.seed,
        data_dir=args.data_dir,
        held_out_classes={
            name: classes
            for name, classes in HELD_OUT_CLASSES.items()
            if name in args.meta_datasets.split(",")
        },
    )


def parameter_free_ops(space):
    """The space's ops that have no weights, found by building each."""
    free = set()
    for op in search_space.get_space(space).ops:
        layer = search_space.make_op(op, 4)
        layer.build((1, 8, 8, 4))
        if not layer.count_params():
            free.add(op)
    return free


def has_parametric_path(genotype, free, cell_type):
    """Whether some input-to-output path of the genotype's `cell_type`
    cell goes through an op with weights (a cell without one has
    collapsed), read off its `cell_graph`: the inputs are the earlier
    cells' outputs (or the first node), the output the concatenation (or
    the last node)."""
    graph = genotype.cell_graph(cell_type)
    names = [name for name, _ in graph.nodes]
    kinds = dict(graph.nodes)
    inputs = [n for n in names if kinds[n] == cell_graph.PREVIOUS_CELL]
    outputs = [n for n in names if kinds[n] == cell_graph.CONCAT]
    # best[node]: 1 parameter-free paths only from an input, 2 a path
    # through an op with weights. The edges come node by node.
    best = dict.fromkeys(inputs or names[:1], 1)
    for source, target, op in graph.edges:
        if op == "none" or not best.get(source):
            continue
        value = best[source] if op is None or op in free else 2
        best[target] = max(best.get(target, 0), value)
    return best.get((outputs or names[-1:])[0], 0) == 2


def cell_text(genotype):
    """A genotype on one line: NAS-Bench-201's string, or DARTS's cells."""
    return " ; ".join(str(genotype).splitlines())


def md(text):
    """`text` as code in a Markdown table cell (its '|' escaped)."""
    return "`" + text.replace("|", "\\|") + "`"


def adapt_cell(prior, args, steps, seed, target=TARGET):
    """Adapts `prior` to a task of `target` with `steps` inner steps."""
    config = adaptation.AdaptationConfig(
        steps=steps,
        batch_size=16,
        train_per_class=100,
        val_per_class=20,
        seed=seed,
        arch_warmup=args.arch_warmup,
        temperature=args.adapt_temperature,
        arch_learning_rate=args.adapt_arch_learning_rate,
    )
    meta, model = prior
    task = adaptation.make_task(
        target, meta, config, args.data_dir, model.supernet.image_channels
    )
    posterior = adaptation.adapt(prior, task, config)
    stats_ = posterior.info["posterior_statistics"]
    genotype = posterior.genotype()
    return {
        "arch": cell_text(genotype),
        "genotype": genotype.to_json(),
        "steps": steps,
        "relative_entropy": stats_["relative_entropy"],
        "val_accuracy": posterior.info["val_accuracy_posterior"],
        "seconds": posterior.info["wall_seconds"],
    }


def train_cell(genotype, args, seed):
    """Test accuracy of `genotype` trained with the recipe (cached on
    disk)."""
    config = recipe(args, seed)
    size = (args.image_size, args.train_channels, args.train_cells)
    key = hashlib.sha1(
        json.dumps(
            [genotype.to_json(), dataclasses.asdict(config), size],
            sort_keys=True,
        ).encode()
    ).hexdigest()[:12]
    folder = os.path.join(args.work_dir, "cells", f"{key}_s{seed}")
    keras.backend.clear_session()
    start = time.perf_counter()
    result = training.train(
        genotype,
        TARGET,
        config,
        folder,
        image_spec=data.ImageSpec(args.image_size, args.image_size, 3),
        channels=args.train_channels,
        num_cells=args.train_cells,
        data_dir=args.data_dir,
        verbose=0,
    )
    return result.test_accuracy, time.perf_counter() - start


def random_cells(args):
    """`--num_random` distinct genotypes drawn uniformly: each edge's op
    (NAS-Bench-201), or each node's two (input, op) slots (DARTS)."""
    space = search_space.get_space(args.space)
    rng = np.random.default_rng(args.random_seed)
    uniform = np.ones((len(space.cell_types), space.num_edges, space.num_ops))
    cells = {}
    while len(cells) < args.num_random:
        genotype = derivation.sample(space, uniform, rng)
        cells.setdefault(cell_text(genotype), genotype)
    return cells


def _finished(folder, config):
    """Whether `folder` holds the last epoch's checkpoint of `config`'s
    run (checkpoints are numbered by the epochs done)."""
    try:
        path = meta_training.latest(folder)
    except ValueError:
        return False
    return path.endswith(f"ckpt-{config.epochs}")


def meta_trained_prior(args, variant, seed):
    """`((config, model), seconds, history)`: the variant's prior,
    meta-trained (or resumed, or read back when done) under
    `--work_dir`, or W_0 for no_meta."""
    config = meta_config(args, variant, seed)
    # Keyed by the config, so that variants that are the same method (or
    # a renamed one) share one meta-training run.
    key = hashlib.sha1(
        json.dumps(config.to_dict(), sort_keys=True).encode()
    ).hexdigest()[:8]
    folder = os.path.join(args.work_dir, "meta", f"s{seed}_{key}")
    start = time.perf_counter()
    history = []
    if variant == "no_meta":
        model = meta_training.prior_model(config)
    elif _finished(folder, config):
        # Read, not resumed: reading needs no claim on the folder, so
        # another harness process may be using the same prior.
        _, model = meta_training.load_prior(folder)
    else:
        trainer = meta_training.MetaTrainer(
            config, task_distribution(config, args), folder
        )
        history = trainer.train(verbose=0)
        model = trainer.model
    return (config, model), time.perf_counter() - start, history


def search(args, variant, seed, log):
    """Meta-trains (unless no_meta) and derives the variant's cells."""
    prior, meta_seconds, history = meta_trained_prior(args, variant, seed)
    config, model = prior
    w = model.meta_parameters
    out = {
        "variant": variant,
        "seed": seed,
        "config": config.to_dict(),
        "meta_seconds": meta_seconds,
        "prior": statistics.summary(w),
        "max_abs_alpha": float(np.abs(np.asarray(w.logits)).max()),
        # The last epoch's tasks: the prior's and the adapted posteriors'
        # validation accuracy (empty when meta-training had already ended).
        "last_epoch": {
            k: v
            for k, v in (history[-1] if history else {}).items()
            if k.startswith("val_accuracy")
        },
        "cells": {},
    }
    out["cells"]["adapted"] = adapt_cell(prior, args, args.adapt_steps, seed)
    if args.compare_target:
        # The same prior, steps and seed on another dataset: does the
        # derived cell follow the data? (Derived only, not trained.)
        other = adapt_cell(
            prior, args, args.adapt_steps, seed, args.compare_target
        )
        out["compare_target"] = {
            "dataset": args.compare_target,
            "arch": other["arch"],
            "relative_entropy": other["relative_entropy"],
            "val_accuracy": other["val_accuracy"],
            "differs": other["arch"] != out["cells"]["adapted"]["arch"],
        }
    if variant != "no_meta":
        out["cells"]["zero_shot"] = adapt_cell(prior, args, 0, seed)
    if variant == "full":
        w0 = (config, meta_training.prior_model(config))
        out["cells"]["w0"] = adapt_cell(w0, args, args.adapt_steps, seed)
        out["cells"]["w0_10x"] = adapt_cell(
            w0, args, 10 * args.adapt_steps, seed
        )
    log(
        f"[{variant}, seed {seed}] meta-training {meta_seconds:.0f} s; "
        f"prior rel. entropy {out['prior']['relative_entropy']:.4f}, "
        f"max |alpha| {out['max_abs_alpha']:.3g}, sigma "
        f"{out['prior']['sigma_mean']:.5f} "
        f"[{out['prior']['sigma_min']:.5f}, {out['prior']['sigma_max']:.5f}]"
        + "".join(f", {k} {v:.3f}" for k, v in out["last_epoch"].items())
    )
    for name, cell in out["cells"].items():
        log(
            f"  {name:9s} {cell['arch']}  steps {cell['steps']}, rel. "
            f"entropy {cell['relative_entropy']:.3f}, val acc "
            f"{cell['val_accuracy']:.3f}"
        )
    if args.compare_target:
        other = out["compare_target"]
        log(
            f"  {other['dataset']}: {other['arch']}  rel. entropy "
            f"{other['relative_entropy']:.3f}, val acc "
            f"{other['val_accuracy']:.3f}, "
            f"{'differs from' if other['differs'] else 'same as'} "
            f"{TARGET}'s"
        )
    return out


def accuracy_of(genotype, args, trained, log):
    arch = cell_text(genotype)
    if arch not in trained:
        accs = []
        for s in range(args.train_seeds):
            acc, seconds = train_cell(genotype, args, s)
            accs.append(acc)
            log(f"    trained {arch} seed {s}: {acc:.4f} ({seconds:.0f} s)")
        trained[arch] = accs
    return trained[arch]


# The settings that determine a cell's training, and so its accuracies.
RECIPE_SETTINGS = (
    "space", "train_seeds", "train_epochs", "train_examples",
    "test_examples", "image_size", "train_channels", "train_cells",
)  # fmt: skip


def trained_before(args, paths):
    """`{arch: accuracies}` of the cells trained in earlier result files
    with the same recipe (`--trained_from`), so that a run measures only
    the cells it has not seen.

    Raises:
        SystemExit: a file was trained with another recipe.
    """
    trained = {}
    for path in paths:
        with open(path) as f:
            results = json.load(f)
        theirs = results["settings"]
        differ = [
            k for k in RECIPE_SETTINGS if theirs.get(k) != getattr(args, k)
        ]
        if differ:
            theirs_ = ", ".join(f"{k}={theirs.get(k)!r}" for k in differ)
            build_parser().error(
                f"--trained_from {path} trained its cells with other "
                f"settings ({theirs_}): drop it or rerun with those settings."
            )
        for row in results.get("random", []) + results.get("published", []):
            if "accs" in row:
                trained.setdefault(row["arch"], row["accs"])
        for search_ in results.get("searches", []):
            for cell in search_["cells"].values():
                if "test_accuracies" in cell:
                    trained.setdefault(cell["arch"], cell["test_accuracies"])
    return trained


def summary(accs):
    mean = stats.mean(accs)
    std = stats.stdev(accs) if len(accs) > 1 else 0.0
    return mean, std


def rank_among(mean, random_means):
    """1 + the random cells strictly better: 1 is best."""
    return 1 + sum(m > mean for m in random_means)


def report(paths):
    """One table of every search in the result files `paths` (.json):
    the ablation table of the README."""
    print(
        "| variant | seed | prior: rel. entropy, max \\|alpha\\| | cell | "
        "steps | q(z\\|D) rel. entropy | architecture | CIFAR-10 accuracy "
        "| rank |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for path in paths:
        with open(path) as f:
            results = json.load(f)
        num_random = len(results.get("random", ()))  # none: search only
        for result in results["searches"]:
            prior = (
                f"{result['prior']['relative_entropy']:.4f}, "
                f"{result['max_abs_alpha']:.3g}"
            )
            for name, cell in result["cells"].items():
                flag = " collapsed" if cell["collapsed"] else ""
                trained = (
                    f"{cell['mean']:.4f} +- {cell['std']:.4f} | "
                    f"{cell['rank']}/{num_random + 1}{flag}"
                    if "mean" in cell
                    else f"not trained |{flag}"
                )
                print(
                    f"| {result['variant']} | {result['seed']} | {prior} | "
                    f"{name} | {cell['steps']} | "
                    f"{cell['relative_entropy']:.3f} | {md(cell['arch'])} | "
                    f"{trained} |"
                )
            other = result.get("compare_target")
            if other:
                print(
                    f"| {result['variant']} | {result['seed']} | {prior} | "
                    f"adapted to {other['dataset']} (not trained) | "
                    f"{result['cells']['adapted']['steps']} | "
                    f"{other['relative_entropy']:.3f} | {md(other['arch'])} "
                    "| | |"
                )


def build_parser():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--space", default="nas_bench_201", choices=SPACES)
    parser.add_argument("--variants", default="full")
    parser.add_argument("--seeds", default="0")
    parser.add_argument("--num_random", type=int, default=10)
    parser.add_argument("--random_seed", type=int, default=1234)
    parser.add_argument("--train_seeds", type=int, default=2)
    parser.add_argument("--train_epochs", type=int, default=8)
    parser.add_argument("--train_examples", type=int, default=5000)
    parser.add_argument("--test_examples", type=int, default=2000)
    parser.add_argument("--image_size", type=int, default=16)
    parser.add_argument("--train_channels", type=int, default=8)
    parser.add_argument(
        "--train_cells",
        type=int,
        default=None,
        help="the trained network's cells (default: the supernet's)",
    )
    parser.add_argument("--meta_epochs", type=int, default=20)
    parser.add_argument("--inner_steps", type=int, default=5)
    parser.add_argument("--adapt_steps", type=int, default=100)
    parser.add_argument(
        "--adapt_arch_learning_rate",
        type=float,
        default=None,
        help="eta for the logits at adaptation (default: meta-training's)",
    )
    parser.add_argument(
        "--adapt_temperature",
        type=float,
        default=None,
        help="tau at adaptation (default: adaptation.AdaptationConfig's)",
    )
    parser.add_argument(
        "--arch_warmup",
        type=float,
        default=0.0,
        help="fraction of the adaptation steps in which the logits hold still",
    )
    parser.add_argument(
        "--compare_target",
        default="fashion_mnist",
        help="also derive the adapted cell on this dataset ('' for none)",
    )
    parser.add_argument(
        "--method",
        default="{}",
        help="JSON of MetaTrainingConfig fields every variant starts from",
    )
    parser.add_argument("--meta_datasets", default=",".join(META_DATASETS))
    parser.add_argument("--data_dir", default=None)
    parser.add_argument("--work_dir", default="runs/search_quality")
    parser.add_argument(
        "--out",
        default=None,
        help="default: benchmarks/results/search_quality_<space>",
    )
    parser.add_argument("--quick", action="store_true")
    parser.add_argument(
        "--search_only",
        action="store_true",
        help="derive the cells and stop (no training): for exploring",
    )
    parser.add_argument(
        "--trained_from",
        nargs="+",
        metavar="JSON",
        help="result files whose cells (same recipe) need no training again",
    )
    parser.add_argument(
        "--report",
        nargs="+",
        metavar="JSON",
        help="print one table of the searches in these result files, and stop",
    )
    return parser


def parse_args(argv=None):
    """The harness's settings, `--quick` and the defaults that follow
    from others applied."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.quick:
        args.num_random, args.train_seeds, args.train_epochs = 3, 1, 1
        args.train_examples, args.test_examples = 1000, 500
        args.meta_epochs, args.inner_steps, args.adapt_steps = 2, 2, 3
    if args.train_cells is None:
        args.train_cells = SPACES[args.space]["num_cells"]
    if args.out is None:
        args.out = f"benchmarks/results/search_quality_{args.space}"
    return args


def main():
    args = parse_args()
    if args.report:
        report(args.report)
        return
    # A cell whose node feeds only "none" edges leaves weights without a
    # gradient; Keras warns at every step of its training.
    warnings.filterwarnings("ignore", message="Gradients do not exist")
    variants = args.variants.split(",")
    unknown = sorted(set(variants) - set(VARIANTS))
    if unknown:
        build_parser().error(
            f"unknown variants {unknown}; known: {list(VARIANTS)}"
        )
    seeds = [int(s) for s in args.seeds.split(",")]
    os.makedirs(os.path.dirname(args.out) or ".", exist_ok=True)
    lines = []

    def log(text):
        print(text, flush=True)
        lines.append(text)

    settings = {k: v for k, v in vars(args).items()}
    log(f"settings: {json.dumps(settings, sort_keys=True)}")
    started = time.perf_counter()
    free = parameter_free_ops(args.space)
    searches = []
    for seed in seeds:
        for variant in variants:
            searches.append(search(args, variant, seed, log))
    for result in searches:
        for cell in result["cells"].values():
            cell["collapsed"] = not has_parametric_path(
                search_space.genotype_from_json(cell["genotype"]),
                free,
                search_space.get_space(args.space).cell_types[0],
            )
    if args.search_only:
        for result in searches:
            cells = result["cells"].items()
            collapsed = [name for name, c in cells if c["collapsed"]]
            log(f"{result['variant']} s{result['seed']} collapsed: {collapsed}")
        elapsed = time.perf_counter() - started
        log(f"\ntotal {elapsed / 60:.1f} min (search only: no cell trained)")
        write_results(
            args,
            lines,
            settings=settings,
            searches=searches,
            minutes=elapsed / 60,
        )
        return
    trained = trained_before(args, args.trained_from or [])
    if trained:
        log(f"{len(trained)} cells' accuracies read from --trained_from")
    randoms = random_cells(args)
    log(f"\ntraining {len(randoms)} random cells")
    random_rows = []
    for arch, genotype in randoms.items():
        mean, std = summary(accuracy_of(genotype, args, trained, log))
        random_rows.append((arch, mean, std))
    random_means = [m for _, m, _ in random_rows]
    published = []
    for name in SPACES[args.space]["published"]:
        genotype = search_space.get_genotype(name)
        mean, std = summary(accuracy_of(genotype, args, trained, log))
        rank = rank_among(mean, random_means)
        published.append((name, cell_text(genotype), mean, std, rank))
    log("\ntraining the derived cells")
    for result in searches:
        for cell in result["cells"].values():
            genotype = search_space.genotype_from_json(cell["genotype"])
            accs = accuracy_of(genotype, args, trained, log)
            cell["test_accuracies"] = accs
            cell["mean"], cell["std"] = summary(accs)
            cell["rank"] = rank_among(cell["mean"], random_means)
    elapsed = time.perf_counter() - started
    log(
        f"\nCIFAR-10 test accuracy, {args.space} network C="
        f"{args.train_channels}, {args.train_cells} cells"
        f"{' a stage' if args.space == 'nas_bench_201' else ''}, at "
        f"{args.image_size}x{args.image_size}, {args.train_epochs} epochs on "
        f"{args.train_examples} images, {args.train_seeds} training seeds; "
        f"rank among {len(randoms)} random cells (1 = best)\n"
    )
    log("| cell | architecture | accuracy | rank |")
    log("|---|---|---|---|")
    for arch, mean, std in sorted(random_rows, key=lambda r: -r[1]):
        log(f"| random | {md(arch)} | {mean:.4f} +- {std:.4f} | |")
    for name, arch, mean, std, rank in published:
        log(
            f"| {name} | {md(arch)} | {mean:.4f} +- {std:.4f} | "
            f"{rank}/{len(randoms) + 1} |"
        )
    for result in searches:
        for name, cell in result["cells"].items():
            flag = " COLLAPSED" if cell["collapsed"] else ""
            log(
                f"| {result['variant']} s{result['seed']} {name} "
                f"({cell['steps']} steps) | {md(cell['arch'])} | "
                f"{cell['mean']:.4f} +- {cell['std']:.4f} | "
                f"{cell['rank']}/{len(randoms) + 1}{flag} |"
            )
    log(f"\ntotal {elapsed / 60:.1f} min")
    write_results(
        args,
        lines,
        settings=settings,
        random=[
            {"arch": a, "mean": m, "std": s, "accs": trained[a]}
            for a, m, s in random_rows
        ],
        published=[
            {
                "name": n,
                "arch": a,
                "mean": m,
                "std": s,
                "rank": r,
                "accs": trained[a],
            }
            for n, a, m, s, r in published
        ],
        searches=searches,
        minutes=elapsed / 60,
    )


def write_results(args, lines, **results):
    """`--out`.json (`results`) and `--out`.txt (the printed `lines`)."""
    with open(args.out + ".json", "w") as f:
        json.dump(results, f, indent=1)
    with open(args.out + ".txt", "w") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
