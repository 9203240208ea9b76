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

import numpy as np


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
        raise ValueError(f"`{name}` must be one of {list(choices)}. Received: {name}={value!r}")
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


def check_range(low_name: str, low, high_name: str, high, minimum: float = 0.0) -> tuple:
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


def check_finite_examples(name: str, x) -> None:
    """A ValueError naming the first example of the array `x` that holds a NaN or an infinity.

    Integer arrays are finite by construction and are not scanned.

    Example:

    >>> check_finite_examples("x", np.array([[0.0, 1.0], [np.nan, 2.0]]))
    Traceback (most recent call last):
    ...
    ValueError: `x` must hold finite numbers; example 1 (x[1]) holds NaN or infinite values (1 of 2
    examples). Fix or drop those examples before the search.
    """
    x = np.asarray(x)
    if not np.issubdtype(x.dtype, np.floating) or x.size == 0:
        return
    finite = np.isfinite(x.reshape(len(x), -1)).all(axis=1) if x.ndim else np.isfinite(x)
    if not np.all(finite):
        bad = np.flatnonzero(~finite)
        raise ValueError(
            f"`{name}` must hold finite numbers; example {bad[0]} ({name}[{bad[0]}]) holds NaN or "
            f"infinite values ({len(bad)} of {len(x)} examples). Fix or drop those examples "
            "before the search."
        )


def check_class_ids(name: str, y, remedy: str) -> None:
    """A ValueError when one label stands far above the others: `max(y) + 1` classes would be
    mostly empty (e.g. labels 0-3 and one 1000 make a network of 1,001 outputs). `remedy` says
    how to state the number of classes explicitly.

    Labels are far apart when the largest is at least 10 above the number of distinct labels
    and more than twice it.

    Example:

    >>> check_class_ids("y", np.array([0, 1, 2, 3, 1000]), "pass `class_names`")
    Traceback (most recent call last):
    ...
    ValueError: `y` has a label far above the others: 5 distinct labels, the largest 1000, so a
    network of 1001 outputs, 996 of them never seen. Fix the label, or pass `class_names` if these
    labels are right.
    """
    y = np.asarray(y)
    if y.size == 0:
        return
    distinct, largest = int(np.unique(y).size), int(y.max())
    if largest + 1 >= max(2 * distinct + 1, distinct + 10):
        raise ValueError(
            f"`{name}` has a label far above the others: {distinct} distinct labels, the largest "
            f"{largest}, so a network of {largest + 1} outputs, {largest + 1 - distinct} of them "
            f"never seen. Fix the label, or {remedy} if these labels are right."
        )


def _bounds_text(minimum, maximum, exclusive) -> str:
    if minimum is not None and maximum is not None:
        left = "(" if exclusive else "["
        return f" in {left}{minimum}, {maximum}]"
    if minimum is not None:
        return f" {'>' if exclusive else '>='} {minimum}"
    if maximum is not None:
        return f" <= {maximum}"
    return ""
