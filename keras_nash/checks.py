"""Argument validation shared by the whole library: one message format, written once.

Every check names the argument, says what was expected and echoes what was received, in
Keras's style: ``ValueError("`n_neighbors` must be an int >= 1. Received: n_neighbors=0")``.
Each returns the value converted to its Python type, so a constructor reads
``self.epochs = check_int("epochs", epochs, 1)``.

Example:

>>> check_int("epochs", 3, minimum=1)
3
>>> check_float("learning_rate", 0.1, minimum=0, exclusive=True)
0.1
>>> check_int("epochs", 0, minimum=1)
Traceback (most recent call last):
...
ValueError: `epochs` must be an int >= 1. Received: epochs=0
"""

import math
import numbers


def check_int(name: str, value, minimum: int = None, maximum: int = None) -> int:
    """`value` as an int, or a ValueError naming `name`.

    Bools and non-integral numbers are refused (`2.0` is accepted, as an int-valued float).

    Args:
        name: str, the argument's name as the user wrote it.
        value: the received value.
        minimum: int or None, the smallest allowed value.
        maximum: int or None, the largest allowed value.

    Returns:
        `int(value)`.
    """
    bound = _bounds_text(minimum, maximum, exclusive=False)
    integral = (
        isinstance(value, numbers.Number)
        and not isinstance(value, bool)
        and math.isfinite(float(value))
        and float(value) == int(value)
    )
    if (
        not integral
        or (minimum is not None and value < minimum)
        or (maximum is not None and value > maximum)
    ):
        raise ValueError(f"`{name}` must be an int{bound}. Received: {name}={value!r}")
    return int(value)


def check_float(
    name: str, value, minimum: float = None, maximum: float = None, exclusive: bool = False
) -> float:
    """`value` as a finite float, or a ValueError naming `name`.

    Args:
        name: str, the argument's name.
        value: the received value.
        minimum: float or None, the lower bound.
        maximum: float or None, the upper bound (always inclusive).
        exclusive: bool, the lower bound is exclusive (`> minimum`). Defaults to False.

    Returns:
        `float(value)`.
    """
    bound = _bounds_text(minimum, maximum, exclusive)
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)
    if ok and minimum is not None:
        ok = value > minimum if exclusive else value >= minimum
    if ok and maximum is not None:
        ok = value <= maximum
    if not ok:
        raise ValueError(f"`{name}` must be a finite number{bound}. Received: {name}={value!r}")
    return float(value)


def check_choice(name: str, value, choices):
    """`value` if it is one of `choices`, or a ValueError listing them.

    Example:

    >>> check_choice("mode", "add", ("add", "concat"))
    'add'
    """
    if value not in tuple(choices):
        raise ValueError(
            f"`{name}` must be one of {list(choices)}. Received: {name}={value!r}"
        )
    return value


def check_fraction(name: str, value) -> float:
    """`value` as a float in [0, 1) (a rate, a split, a momentum), or a ValueError naming `name`.

    Example:

    >>> check_fraction("dropout", 0.5)
    0.5
    """
    value = check_float(name, value, minimum=0.0, maximum=1.0)
    if value == 1.0:
        raise ValueError(f"`{name}` must be in [0, 1). Received: {name}={value!r}")
    return value


def check_range(
    low_name: str, low, high_name: str, high, minimum: float = 0.0
) -> tuple:
    """Two floats with `minimum <= low <= high`, e.g. a learning rate's floor and start.

    Example:

    >>> check_range("learning_rate_min", 0.001, "learning_rate", 0.025)
    (0.001, 0.025)
    """
    low = check_float(low_name, low, minimum=minimum)
    high = check_float(high_name, high, minimum=minimum)
    if low > high:
        raise ValueError(
            f"`{low_name}` must be in [{minimum:g}, {high_name}]. Received: "
            f"{low_name}={low}, {high_name}={high}"
        )
    return low, high


def _bounds_text(minimum, maximum, exclusive) -> str:
    if minimum is not None and maximum is not None:
        left = "(" if exclusive else "["
        return f" in {left}{minimum}, {maximum}]"
    if minimum is not None:
        return f" {'>' if exclusive else '>='} {minimum}"
    if maximum is not None:
        return f" <= {maximum}"
    return ""
