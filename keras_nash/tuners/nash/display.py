"""How a NASH search prints its trials: one readable line each (architectures are long)."""

import json

from keras_nash import internals
from keras_nash.graph import Architecture

_KEY = "nash/"


class NashDisplay(internals.Display):
    """One readable line per trial instead of keras-tuner's table (architectures are long)."""

    def show_hyperparameter_table(self, trial):
        values = trial.hyperparameters.values
        if _KEY + "arch" not in values:
            return super().show_hyperparameter_table(trial)
        arch = Architecture.from_json(values[_KEY + "arch"])
        morphs = json.loads(values[_KEY + "morphs"])
        applied = ", ".join(describe(m) for m in morphs) or "none"
        print(
            f"step {values[_KEY + 'step']} | {values[_KEY + 'role']} | parent trial "
            f"{values[_KEY + 'parent'] or '-'} | {values[_KEY + 'epochs']} epochs | "
            f"{arch.count_params():,} params | morphisms: {applied}"
        )


def describe(m) -> str:
    """A morphism as a short readable string, e.g. `deeper(relu_2, k=3)`."""
    if m["op"] == "deeper":
        return f"deeper({m['after']}, k={m['kernel_size']})"
    if m["op"] == "wider":
        return f"wider({m['conv']}, x{m['factor']})"
    return f"skip-{m['mode']}({m['from']} -> {m['to']})"
