"""PyTorch DARTS search-network training step, timed as a speed baseline.

A self-contained PyTorch rendering of the DARTS search supernet (Liu et al.,
"DARTS: Differentiable Architecture Search", the search model of the
reference implementation's cnn/model_search.py), written for this project so
base-tf's TensorFlow supernet step can be compared with it on the same
machine. It does not import base_tf; PyTorch is needed only here (see
benchmarks/requirements.txt).

What is timed, per step, on random inputs of a fixed shape:

1. forward pass of the whole supernet (every edge a MixedOp over all 8 ops,
   weighted by softmax(alpha)),
2. cross-entropy loss,
3. backward pass into both the network weights and the two alpha tensors,
4. an SGD-with-momentum step on the weights (lr 0.025, momentum 0.9,
   weight decay 3e-4, gradient-norm clipping at 5, as in DARTS search) and
   an Adam step on the alphas (lr 3e-4, betas (0.5, 0.999), weight decay
   1e-3, as in DARTS's architect).

Both updates use the gradients of the same batch and the same backward
pass. DARTS's first-order architect would instead run a separate forward and
backward pass on a validation batch for the alphas, so a real first-order
DARTS search iteration costs about two of these steps; the single-pass step
is timed here because it is the like-for-like counterpart of one supernet
training step.

Usage:
    .venv/bin/python benchmarks/torch_darts_reference.py
    .venv/bin/python benchmarks/torch_darts_reference.py --channels 16 --json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time

import torch
from torch import nn
from torch.nn import functional

PRIMITIVES = (
    "none",
    "max_pool_3x3",
    "avg_pool_3x3",
    "skip_connect",
    "sep_conv_3x3",
    "sep_conv_5x5",
    "dil_conv_3x3",
    "dil_conv_5x5",
)
STEPS = 4  # intermediate nodes per cell
MULTIPLIER = 4  # nodes concatenated into a cell's output
STEM_MULTIPLIER = 3


# --------------------------------------------------------------------------
# Operations
# --------------------------------------------------------------------------


class Zero(nn.Module):
    """The 'none' op: zeros, spatially subsampled at stride 2."""

    def __init__(self, stride: int):
        super().__init__()
        self.stride = stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.stride == 1:
            return x.mul(0.0)
        return x[:, :, :: self.stride, :: self.stride].mul(0.0)


class ReLUConvBN(nn.Sequential):
    def __init__(self, c_in, c_out, kernel, stride, padding, affine):
        super().__init__(
            nn.ReLU(inplace=False),
            nn.Conv2d(c_in, c_out, kernel, stride, padding, bias=False),
            nn.BatchNorm2d(c_out, affine=affine),
        )


class DilConv(nn.Sequential):
    """ReLU, depthwise (dilated) conv, pointwise conv, BN."""

    def __init__(self, c_in, c_out, kernel, stride, padding, dilation, affine):
        super().__init__(
            nn.ReLU(inplace=False),
            nn.Conv2d(
                c_in,
                c_in,
                kernel,
                stride,
                padding,
                dilation=dilation,
                groups=c_in,
                bias=False,
            ),
            nn.Conv2d(c_in, c_out, 1, bias=False),
            nn.BatchNorm2d(c_out, affine=affine),
        )


class SepConv(nn.Sequential):
    """Two stacked DilConv blocks with dilation 1 (stride on the first)."""

    def __init__(self, c_in, c_out, kernel, stride, padding, affine):
        super().__init__(
            DilConv(c_in, c_in, kernel, stride, padding, 1, affine),
            DilConv(c_in, c_out, kernel, 1, padding, 1, affine),
        )


class FactorizedReduce(nn.Module):
    """Halve the spatial size with two offset stride-2 1x1 convs."""

    def __init__(self, c_in, c_out, affine):
        super().__init__()
        if c_out % 2:
            raise ValueError(f"FactorizedReduce needs even c_out, got {c_out}")
        self.relu = nn.ReLU(inplace=False)
        self.conv_1 = nn.Conv2d(c_in, c_out // 2, 1, stride=2, bias=False)
        self.conv_2 = nn.Conv2d(c_in, c_out // 2, 1, stride=2, bias=False)
        self.bn = nn.BatchNorm2d(c_out, affine=affine)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # As in DARTS, the second conv sees the input shifted by one pixel;
        # both halves match in size when the input's height and width are
        # even (32 -> 16 -> 8 here).
        x = self.relu(x)
        out = torch.cat([self.conv_1(x), self.conv_2(x[:, :, 1:, 1:])], dim=1)
        return self.bn(out)


def make_op(name: str, c: int, stride: int, affine: bool) -> nn.Module:
    if name == "none":
        return Zero(stride)
    if name == "max_pool_3x3":
        return nn.MaxPool2d(3, stride=stride, padding=1)
    if name == "avg_pool_3x3":
        return nn.AvgPool2d(
            3, stride=stride, padding=1, count_include_pad=False
        )
    if name == "skip_connect":
        if stride == 1:
            return nn.Identity()
        return FactorizedReduce(c, c, affine)
    if name == "sep_conv_3x3":
        return SepConv(c, c, 3, stride, 1, affine)
    if name == "sep_conv_5x5":
        return SepConv(c, c, 5, stride, 2, affine)
    if name == "dil_conv_3x3":
        return DilConv(c, c, 3, stride, 2, 2, affine)
    if name == "dil_conv_5x5":
        return DilConv(c, c, 5, stride, 4, 2, affine)
    raise ValueError(f"unknown primitive {name!r}")


# --------------------------------------------------------------------------
# Supernet
# --------------------------------------------------------------------------


class MixedOp(nn.Module):
    """sum_o w_o * op_o(x) over every primitive."""

    def __init__(self, c: int, stride: int):
        super().__init__()
        ops = []
        for name in PRIMITIVES:
            op = make_op(name, c, stride, affine=False)
            if "pool" in name:
                op = nn.Sequential(op, nn.BatchNorm2d(c, affine=False))
            ops.append(op)
        self.ops = nn.ModuleList(ops)

    def forward(self, x: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        return sum(w * op(x) for w, op in zip(weights, self.ops, strict=True))


class Cell(nn.Module):
    def __init__(self, c_pp, c_p, c, reduction, reduction_prev):
        super().__init__()
        self.reduction = reduction
        if reduction_prev:
            self.preprocess0 = FactorizedReduce(c_pp, c, affine=False)
        else:
            self.preprocess0 = ReLUConvBN(c_pp, c, 1, 1, 0, affine=False)
        self.preprocess1 = ReLUConvBN(c_p, c, 1, 1, 0, affine=False)
        self.edges = nn.ModuleList()
        for node in range(STEPS):
            for j in range(2 + node):
                stride = 2 if reduction and j < 2 else 1
                self.edges.append(MixedOp(c, stride))

    def forward(self, s0, s1, weights):
        states = [self.preprocess0(s0), self.preprocess1(s1)]
        offset = 0
        for _ in range(STEPS):
            node = sum(
                self.edges[offset + j](h, weights[offset + j])
                for j, h in enumerate(states)
            )
            offset += len(states)
            states.append(node)
        return torch.cat(states[-MULTIPLIER:], dim=1)


class SearchNetwork(nn.Module):
    def __init__(self, channels: int, num_classes: int, layers: int):
        super().__init__()
        c_curr = STEM_MULTIPLIER * channels
        self.stem = nn.Sequential(
            nn.Conv2d(3, c_curr, 3, padding=1, bias=False),
            nn.BatchNorm2d(c_curr),
        )
        c_pp, c_p, c_curr = c_curr, c_curr, channels
        self.cells = nn.ModuleList()
        reduction_prev = False
        for i in range(layers):
            reduction = i in (layers // 3, 2 * layers // 3)
            if reduction:
                c_curr *= 2
            cell = Cell(c_pp, c_p, c_curr, reduction, reduction_prev)
            self.cells.append(cell)
            reduction_prev = reduction
            c_pp, c_p = c_p, MULTIPLIER * c_curr
        self.global_pooling = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(c_p, num_classes)

        num_edges = sum(2 + i for i in range(STEPS))  # 14
        num_ops = len(PRIMITIVES)
        self.alphas_normal = nn.Parameter(
            1e-3 * torch.randn(num_edges, num_ops)
        )
        self.alphas_reduce = nn.Parameter(
            1e-3 * torch.randn(num_edges, num_ops)
        )

    def arch_parameters(self) -> list[nn.Parameter]:
        return [self.alphas_normal, self.alphas_reduce]

    def weight_parameters(self) -> list[nn.Parameter]:
        arch = {id(p) for p in self.arch_parameters()}
        return [p for p in self.parameters() if id(p) not in arch]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s0 = s1 = self.stem(x)
        w_normal = functional.softmax(self.alphas_normal, dim=-1)
        w_reduce = functional.softmax(self.alphas_reduce, dim=-1)
        for cell in self.cells:
            weights = w_reduce if cell.reduction else w_normal
            s0, s1 = s1, cell(s0, s1, weights)
        out = self.global_pooling(s1)
        return self.classifier(out.flatten(1))


# --------------------------------------------------------------------------
# Benchmark
# --------------------------------------------------------------------------


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--channels", type=int, default=8)
    p.add_argument("--layers", type=int, default=5)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--steps", type=int, default=10, help="timed steps")
    p.add_argument("--warmup", type=int, default=3, help="untimed steps")
    p.add_argument("--image_size", type=int, default=32)
    p.add_argument("--num_classes", type=int, default=10)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--json", action="store_true", help="print one JSON line only"
    )
    args = p.parse_args(argv)
    if args.steps < 1 or args.warmup < 0:
        p.error("--steps must be >= 1 and --warmup >= 0")
    return args


def run(args: argparse.Namespace) -> dict:
    torch.manual_seed(args.seed)
    model = SearchNetwork(args.channels, args.num_classes, args.layers)
    model.train()
    weights = model.weight_parameters()
    w_opt = torch.optim.SGD(weights, lr=0.025, momentum=0.9, weight_decay=3e-4)
    a_opt = torch.optim.Adam(
        model.arch_parameters(),
        lr=3e-4,
        betas=(0.5, 0.999),
        weight_decay=1e-3,
    )
    criterion = nn.CrossEntropyLoss()
    shape = (args.batch, 3, args.image_size, args.image_size)
    x = torch.randn(shape)
    y = torch.randint(0, args.num_classes, (args.batch,))

    def step() -> float:
        w_opt.zero_grad(set_to_none=True)
        a_opt.zero_grad(set_to_none=True)
        loss = criterion(model(x), y)
        loss.backward()
        nn.utils.clip_grad_norm_(weights, 5.0)
        w_opt.step()
        a_opt.step()
        return loss.item()

    for _ in range(args.warmup):
        step()
    times = []
    for _ in range(args.steps):
        t0 = time.perf_counter()
        loss = step()
        times.append(time.perf_counter() - t0)
    if not torch.isfinite(torch.tensor(loss)):
        raise RuntimeError(f"non-finite loss {loss}")

    median_s = statistics.median(times)
    return {
        "framework": "pytorch",
        "torch_version": torch.__version__,
        "num_threads": torch.get_num_threads(),
        "cpu_count": os.cpu_count(),
        "machine": platform.machine(),
        "channels": args.channels,
        "layers": args.layers,
        "batch": args.batch,
        "image_size": args.image_size,
        "num_classes": args.num_classes,
        "warmup": args.warmup,
        "steps": args.steps,
        "num_weight_params": sum(p.numel() for p in weights),
        "alpha_update": "adam_same_batch",
        "median_step_s": median_s,
        "min_step_s": min(times),
        "max_step_s": max(times),
        "median_images_per_s": args.batch / median_s,
        "last_loss": loss,
    }


def main(argv=None) -> None:
    args = parse_args(argv)
    r = run(args)
    if args.json:
        print(json.dumps(r, sort_keys=True))
        return
    print(
        f"torch {r['torch_version']}  threads {r['num_threads']}"
        f"  (cpus {r['cpu_count']}, {r['machine']})"
    )
    print(
        f"DARTS search net: C={r['channels']} layers={r['layers']}"
        f" batch={r['batch']} image={r['image_size']}"
        f" weights={r['num_weight_params']:,}"
    )
    print(
        "step: forward + CE + backward (weights and alphas)"
        " + SGD-momentum on weights + Adam on alphas"
    )
    print(f"warmup {r['warmup']}, timed steps {r['steps']}")
    print(
        f"median step {r['median_step_s'] * 1e3:.1f} ms"
        f" (min {r['min_step_s'] * 1e3:.1f},"
        f" max {r['max_step_s'] * 1e3:.1f})"
    )
    print(f"median images/s {r['median_images_per_s']:.1f}")


if __name__ == "__main__":
    main()
