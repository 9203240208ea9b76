"""How a NASH search prints its trials: one readable line each (architectures are long)."""

import json

from keras_nash import internals
from keras_nash.graph import Architecture

KEY = "nash/"  # the prefix of a NASH trial's values (nash/arch, nash/role, ...)


class NashDisplay(internals.Display):
    """One readable line per trial instead of keras-tuner's table (architectures are long)."""

    def show_hyperparameter_table(self, trial):
        values = trial.hyperparameters.values
        if KEY + "arch" not in values:
            return super().show_hyperparameter_table(trial)
        arch = Architecture.from_json(values[KEY + "arch"])
        morphs = json.loads(values[KEY + "morphs"])
        applied = ", ".join(describe(m) for m in morphs) or "none"
        print(
            f"step {values[KEY + 'step']} | {values[KEY + 'role']} | parent trial "
            f"{values[KEY + 'parent'] or '-'} | {values[KEY + 'epochs']} epochs | "
            f"{arch.count_params():,} params | morphisms: {applied}"
        )


def describe(m) -> str:
    """A morphism as a short readable string, e.g. `deeper(relu_2, k=3)`."""
    if m["op"] == "deeper":
        return f"deeper({m['after']}, k={m['kernel_size']})"
    if m["op"] == "wider":
        return f"wider({m['conv']}, x{m['factor']})"
    return f"skip-{m['mode']}({m['from']} -> {m['to']})"
