"""A search's numerical precision: a Keras dtype policy that holds in every trial.

keras-tuner calls `keras.backend.clear_session()` before it builds a trial's model, and that
resets Keras's global dtype policy to float32: a script's
`keras.config.set_dtype_policy("mixed_bfloat16")` silently stops applying after the first
trial. Every keras_nash tuner therefore takes `precision`, resolves it once (None: the global
policy when the tuner is made) and sets it again whenever it builds a network (`apply`), so the
global policy is the search's after the tuner has built one (a `NashTuner` builds its seed when
made). A resumed supernet search keeps the precision it started with (`check_resumed`:
mixed_float16's loss scaling adds optimizer variables):

- "float32": everything in float32 (Keras's default).
- "mixed_bfloat16": float32 variables, bfloat16 computations (TPUs, and GPUs from Ampere on);
  no loss scaling needed.
- "mixed_float16": float32 variables, float16 computations, with dynamic loss scaling
  (`keras.optimizers.LossScaleOptimizer`: `model.compile` adds it to a final training, and
  the supernet steps through `loss_scaled`).

Losses are computed in float32 in every precision; the ENAS controller always runs in float32
(it is tiny, and its REINFORCE arithmetic wants the range). NASH's function-preservation check
uses the tolerance of the precision the networks run in (`morphisms.default_tolerance`).
"""

import keras

from keras_nash.checks import check_choice

PRECISIONS = ("float32", "mixed_bfloat16", "mixed_float16")


def resolve(precision=None) -> str:
    """`precision` checked, or the global dtype policy's name when it is None.

    Example:

    >>> from keras_nash import precision
    >>> precision.resolve("mixed_bfloat16")
    'mixed_bfloat16'
    >>> precision.resolve()  # Keras's default policy
    'float32'
    """
    if precision is None:
        precision = keras.config.dtype_policy().name
        if precision not in PRECISIONS:
            raise ValueError(
                f"The global dtype policy {precision!r} is not a search precision: pass "
                f"`precision`, one of {PRECISIONS}. Received: precision=None"
            )
    return check_choice("precision", precision, PRECISIONS)


def apply(precision: str) -> None:
    """Make `precision` the global dtype policy (after keras-tuner's `clear_session`)."""
    keras.config.set_dtype_policy(precision)


def check_resumed(saved, precision: str) -> None:
    """Raise unless a resumed supernet search keeps the precision it was saved with (`saved`,
    None for projects from before precisions were saved): mixed_float16's loss scaling keeps
    optimizer state of its own, so a search cannot change precision midway."""
    if saved is not None and saved != precision:
        raise ValueError(
            f"This project was searched with precision={saved!r}: resume it with that "
            "precision, or start a new project (`overwrite=True` or another `project_name`). "
            f"Received: precision={precision!r}"
        )


def loss_scaled(optimizer, precision: str):
    """`optimizer`, wrapped in a `LossScaleOptimizer` under "mixed_float16" (a custom step
    then takes gradients of `optimizer.scale_loss(loss)`; `apply` unscales them and skips a
    step whose gradients overflowed)."""
    if precision == "mixed_float16":
        return keras.optimizers.LossScaleOptimizer(optimizer)
    return optimizer
