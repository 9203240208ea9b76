"""Learning-rate schedules: cosine annealing restarted per child (SGDR) and warm restarts.

NASH trains every child with its own cosine schedule from `lr_start` down to `lr_end`: a new
child is a "warm restart" (Loshchilov & Hutter, SGDR). ENAS trains its shared weights with
cosine warm restarts whose period grows (T0, Tmul). Both are thin wrappers around Keras's own
`CosineDecay` and `CosineDecayRestarts`, which serialise with the optimizer.
"""

import keras


def cosine_annealing(
    lr_start: float, lr_end: float, total_steps: int
) -> keras.optimizers.schedules.LearningRateSchedule:
    """Cosine from `lr_start` at step 0 to `lr_end` at `total_steps` (one SGDR cycle).

    Args:
        lr_start: float > 0, the learning rate at the start.
        lr_end: float in [0, lr_start], the learning rate at the end.
        total_steps: int >= 1, the number of optimizer steps of the cycle.

    Returns:
        A `keras.optimizers.schedules.CosineDecay`.

    Example:

    >>> schedule = cosine_annealing(0.05, 0.0, total_steps=100)
    >>> round(float(schedule(50)), 4)
    0.025
    """
    _check(lr_start, lr_end)
    if int(total_steps) < 1:
        raise ValueError(f"`total_steps` must be >= 1. Received: total_steps={total_steps}")
    return keras.optimizers.schedules.CosineDecay(
        lr_start, int(total_steps), alpha=lr_end / lr_start
    )


def warm_restarts(
    lr_start: float, lr_end: float, first_period: int, period_multiplier: float = 2.0
) -> keras.optimizers.schedules.LearningRateSchedule:
    """SGDR: cosine cycles from `lr_start` to `lr_end`, the first `first_period` steps long,
    each next one `period_multiplier` times longer.

    Args:
        lr_start: float > 0.
        lr_end: float in [0, lr_start].
        first_period: int >= 1, steps of the first cycle (T0).
        period_multiplier: float >= 1 (Tmul). Defaults to 2.0.

    Returns:
        A `keras.optimizers.schedules.CosineDecayRestarts`.
    """
    _check(lr_start, lr_end)
    if int(first_period) < 1:
        raise ValueError(f"`first_period` must be >= 1. Received: first_period={first_period}")
    if period_multiplier < 1:
        raise ValueError(
            f"`period_multiplier` must be >= 1. Received: period_multiplier={period_multiplier}"
        )
    return keras.optimizers.schedules.CosineDecayRestarts(
        lr_start,
        int(first_period),
        t_mul=float(period_multiplier),
        m_mul=1.0,
        alpha=lr_end / lr_start,
    )


def _check(lr_start, lr_end):
    if not lr_start > 0:
        raise ValueError(f"`lr_start` must be > 0. Received: lr_start={lr_start}")
    if not 0 <= lr_end <= lr_start:
        raise ValueError(
            f"`lr_end` must be in [0, lr_start]. Received: lr_end={lr_end}, lr_start={lr_start}"
        )
