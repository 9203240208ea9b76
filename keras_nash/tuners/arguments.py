"""How a tuner hands its oracle's arguments on: `oracle_arguments`.

Every keras_nash tuner builds its own oracle (as keras-tuner's `Hyperband` does), so a user
gives one flat set of keyword arguments. Instead of repeating the oracle's signature in the
tuner's (and keeping the two in step by hand), a tuner takes the oracle's arguments in its
`**kwargs` and passes on those the oracle's constructor names.
"""

import inspect

import keras_tuner


def _parameter_names(function) -> set:
    return {
        name
        for name, parameter in inspect.signature(function).parameters.items()
        if parameter.kind in (parameter.POSITIONAL_OR_KEYWORD, parameter.KEYWORD_ONLY)
    }


def oracle_arguments(oracle_class, kwargs: dict) -> dict:
    """Pop from `kwargs` the arguments that `oracle_class` (or keras-tuner's `Oracle`) takes.

    Args:
        oracle_class: the oracle's class.
        kwargs: dict, a tuner's keyword arguments; the oracle's are removed from it, the rest
            (the `keras_tuner.Tuner` ones) stay.

    Returns:
        A dict of the removed arguments, for `oracle_class(**arguments)`.

    Example:

    >>> from keras_nash.tuners.darts import DartsOracle
    >>> kwargs = {"max_retries_per_trial": 1, "directory": "runs"}
    >>> oracle_arguments(DartsOracle, kwargs), kwargs
    ({'max_retries_per_trial': 1}, {'directory': 'runs'})
    """
    names = _parameter_names(oracle_class.__init__) | _parameter_names(keras_tuner.Oracle.__init__)
    names.discard("self")
    return {name: kwargs.pop(name) for name in list(kwargs) if name in names}
