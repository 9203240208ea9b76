"""The ENAS search spaces (Pham et al. 2018): macro (whole network), micro (cells), recurrent.

This module is the ENAS spaces' one address; each concept lives in its own module:

- `keras_nash.spaces.enas.architectures`: architectures as plain data, `MacroArchitecture` and
  `MicroArchitecture`, with a JSON round trip (schema version 1), validation, and
  `architecture_from_json`.
- `keras_nash.spaces.enas.shared`: what both spaces share: `EnasSpace` (decision vectors in,
  shared-weight model and fixed child models out) and the model pieces (stem, head).
- `keras_nash.spaces.enas.macro`: `MacroSpace`, `MACRO_OPERATIONS` and its shared model.
- `keras_nash.spaces.enas.micro`: `MicroSpace`, `MICRO_OPERATIONS` and its shared model.
- `keras_nash.spaces.enas.recurrent`: `RecurrentSpace` (the language-model cell),
  `RecurrentArchitecture`, `RECURRENT_ACTIVATIONS`; its models take tokens and a state.

A space turns architectures into int32 decision vectors for the controller (`encode` /
`decode`) and builds two kinds of Keras models: the shared-weight model
(`build_shared_model`, called on `(images, arch)`, one compiled step for every architecture)
and a fixed child (`build_child_model`, serialisable as `.keras`) that `copy_shared_weights`
makes compute what the shared model computes on that architecture. `get_space` reads a space
from itself, its name or its config.
"""

from keras_nash.spaces.enas.architectures import (  # noqa: F401  (re-exported)
    SCHEMA_VERSION,
    MacroArchitecture,
    MicroArchitecture,
    RecurrentArchitecture,
    architecture_from_json,
)
from keras_nash.spaces.enas.macro import MACRO_OPERATIONS, MacroSpace  # noqa: F401
from keras_nash.spaces.enas.micro import MICRO_OPERATIONS, MicroSpace  # noqa: F401
from keras_nash.spaces.enas.recurrent import (  # noqa: F401
    ENAS_PTB_DECISIONS,
    RECURRENT_ACTIVATIONS,
    RecurrentSpace,
)
from keras_nash.spaces.enas.shared import EnasSpace, check_operations  # noqa: F401

__all__ = [
    "ENAS_PTB_DECISIONS",
    "MACRO_OPERATIONS",
    "MICRO_OPERATIONS",
    "RECURRENT_ACTIVATIONS",
    "SCHEMA_VERSION",
    "EnasSpace",
    "MacroArchitecture",
    "MacroSpace",
    "MicroArchitecture",
    "MicroSpace",
    "RecurrentArchitecture",
    "RecurrentSpace",
    "architecture_from_json",
    "check_operations",
    "get_space",
]

_SPACES = {"macro": MacroSpace, "micro": MicroSpace, "recurrent": RecurrentSpace}


def get_space(search_space) -> EnasSpace:
    """A space from itself, its name ("macro", "micro", "recurrent") or its `get_config()` dict.

    Args:
        search_space: a `MacroSpace`, `MicroSpace` or `RecurrentSpace`, its name, or a space's
            `get_config()`.

    Returns:
        The space (with the default arguments when given by name).

    Example:

    >>> from keras_nash.spaces import MacroSpace, get_space
    >>> get_space({"name": "macro", "num_layers": 3}).num_layers
    3
    >>> get_space("micro").name
    'micro'
    >>> space = MacroSpace(num_layers=2)
    >>> get_space(space) is space
    True
    """
    if isinstance(search_space, EnasSpace):
        return search_space
    if isinstance(search_space, dict):
        config = dict(search_space)
        name = config.pop("name", None)
        if name in _SPACES:
            return _SPACES[name](**config)
        search_space = name
    if isinstance(search_space, str) and search_space in _SPACES:
        return _SPACES[search_space]()
    raise ValueError(
        "`search_space` must be an ENAS space, 'macro', 'micro', 'recurrent' or a space's "
        "config. "
        f"Received: search_space={search_space!r}"
    )
