"""Benchmark: EG-NAS's two alpha updates on a synthetic fitness (no network, seconds).

The toy of issue 31: 2 cells x 14 edges x 7 operations, one good operation per edge (drawn
from the seed); a candidate's cross-entropy is `2 - mean over edges of q_i[good]` (plus
Gaussian noise of `--noise`, a minibatch's), every candidate as accurate as the mean (so the
fitness is `L1 + eta * L2`); 35 generations (EG-NAS's epochs 15 to 49) through `EgnasOracle`
exactly as a search runs them (`population_candidates` gives the mixtures the tuner would
score). Reported per update and sigma: the fraction of edges whose `argmax(alpha)` is the good
operation (chance 1/7 = 14%), and `mixture_spread(alpha)` (how far softmax(alpha) moved from
uniform), mean over `--seeds` seeds. Sigma: the paper's intended schedule (1/16 ... 0.02), and
1.0 (what the authors' script runs).

    python bench/egnas_update.py [--seeds 20] [--noise 0.0] [--output egnas_update.json]

Writes bench/results/egnas_update.json (`--output`).
"""

import json
import pathlib
import sys

import numpy as np
from absl import app, flags

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
from keras_nash.tuners.egnas.oracle import EgnasOracle  # noqa: E402
from keras_nash.tuners.egnas.strategy import mixture_spread, population_candidates  # noqa: E402

SEEDS = flags.DEFINE_integer("seeds", 20, "Seeds (good operations and populations).")
NOISE = flags.DEFINE_float("noise", 0.0, "Standard deviation of the cross-entropy's noise.")
OUTPUT = flags.DEFINE_string("output", "egnas_update.json", "Results file in bench/results/.")
RESULTS = HERE / "results"


def run(update, sigma_min, seed, noise):
    oracle = EgnasOracle(
        epochs=50,
        warmup_epochs=15,
        population_size=50,
        update=update,
        sigma_min=sigma_min,
        seed=seed,
    )
    rng = np.random.default_rng((seed, 99))
    good = rng.integers(0, oracle.alpha.shape[-1], oracle.alpha.shape[:-1])
    quality = np.eye(oracle.alpha.shape[-1])[good]
    for epoch in range(15, 50):
        oracle.epoch = epoch
        values = oracle.epoch_values()
        sigma, population_seed = values["egnas/sigma"], values["egnas/population_seed"]
        _, mixtures = population_candidates(oracle.alpha, sigma, population_seed, 50, update)
        cross_entropy = 2.0 - (mixtures * quality).sum(-1).mean((-1, -2))
        cross_entropy = cross_entropy + noise * rng.standard_normal(len(cross_entropy))
        oracle.evolve(cross_entropy, np.full(50, 0.5), 0.5, sigma, population_seed)
    recovered = float(np.mean(np.argmax(oracle.alpha, -1) == good))
    return recovered, mixture_spread(oracle.alpha)


def main(argv):
    del argv
    rows = []
    for update in ("paper", "es"):
        for label, sigma_min in (("schedule 1/16..0.02", 0.02), ("1.0 (the authors' script)", 1.0)):
            runs = [run(update, sigma_min, seed, NOISE.value) for seed in range(SEEDS.value)]
            recovered, spread = np.mean(runs, axis=0)
            rows.append(
                {
                    "update": update,
                    "sigma": label,
                    "recovered": float(recovered),
                    "recovered_std": float(np.std([r[0] for r in runs])),
                    "mixture_spread": float(spread),
                }
            )
            print(
                f"{update:<6} sigma {label:<26} good ops recovered {recovered:.3f} "
                f"(sd {rows[-1]['recovered_std']:.3f}), mixture_spread {spread:.4f}",
                flush=True,
            )
    RESULTS.mkdir(parents=True, exist_ok=True)
    settings = {
        "seeds": SEEDS.value,
        "noise": NOISE.value,
        "edges": 28,
        "operations": 7,
        "generations": 35,
        "population": 50,
        "chance": 1 / 7,
    }
    (RESULTS / OUTPUT.value).write_text(
        json.dumps({"settings": settings, "rows": rows}, indent=2) + "\n"
    )


if __name__ == "__main__":
    app.run(main)
