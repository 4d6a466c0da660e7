"""Regenerate ``onecycle_reference.json``: PyTorch's ``OneCycleLR`` numbers for a few configurations.

Not run by the tests (they never import torch); run it by hand in an
environment with PyTorch when the cases change:

    python tests/data/make_onecycle_reference.py

For every case it records, for each update ``i = 0 .. total_steps - 1``, the
learning rate and the momentum (SGD) or ``beta_1`` (Adam) that the optimizer
holds when ``optimizer.step()`` runs for that update, i.e. the values used by
update ``i``.
"""

from __future__ import annotations

import json
import pathlib
import platform

import torch

CASES = [
    {"max_lr": 0.1, "total_steps": 100},
    {"max_lr": 0.01, "total_steps": 500},
    {
        "max_lr": 0.5,
        "total_steps": 57,
        "pct_start": 0.25,
        "anneal_strategy": "linear",
        "div_factor": 10.0,
        "final_div_factor": 100.0,
    },
    {"max_lr": 0.1, "total_steps": 80, "three_phase": True},
    {
        "max_lr": 2.0,
        "total_steps": 33,
        "pct_start": 0.4,
        "anneal_strategy": "linear",
        "three_phase": True,
        "base_momentum": 0.8,
        "max_momentum": 0.9,
    },
    {
        "max_lr": 0.1,
        "total_steps": 120,
        "pct_start": 0.25,
        "div_factor": 25.0,
        "final_div_factor": 4000.0,
    },
    {"max_lr": 0.3, "total_steps": 7},
    {"max_lr": 0.3, "total_steps": 20, "pct_start": 0.0},
    {"max_lr": 0.3, "total_steps": 50, "pct_start": 0.29},
    {"max_lr": 0.3, "total_steps": 30, "pct_start": 0.8, "three_phase": True},
    {"max_lr": 0.003, "total_steps": 64, "optimizer": "adam"},
]


def run(case):
    case = dict(case)
    name = case.pop("optimizer", "sgd")
    param = torch.nn.Parameter(torch.zeros(1))
    if name == "adam":
        opt = torch.optim.Adam([param], lr=0.1, betas=(0.9, 0.999))
    else:
        opt = torch.optim.SGD([param], lr=0.1, momentum=0.9)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, **case)
    lrs, moms = [], []
    for _ in range(case["total_steps"]):
        group = opt.param_groups[0]
        lrs.append(float(group["lr"]))
        moms.append(float(group["betas"][0] if name == "adam" else group["momentum"]))
        param.grad = torch.ones(1)
        opt.step()
        sched.step()
    return {"optimizer": name, "kwargs": case, "lr": lrs, "momentum": moms}


def main():
    out = {
        "generator": "tests/data/make_onecycle_reference.py",
        "torch": torch.__version__,
        "python": platform.python_version(),
        "cases": [run(c) for c in CASES],
    }
    path = pathlib.Path(__file__).with_name("onecycle_reference.json")
    path.write_text(json.dumps(out) + "\n")
    print(f"wrote {path} ({len(out['cases'])} cases)")


if __name__ == "__main__":
    main()
