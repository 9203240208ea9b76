"""keras_nash's log: one line per trial, visible in a plain script without any set-up.

keras_nash reports progress (one line per trial, one per search step or epoch) through the
standard-library logger named "keras_nash", so it works with whatever logging the program uses:

- A plain script that configures no logging sees the lines on stderr at INFO, the way a
  keras-tuner user sees its per-trial output: importing this module gives the logger a handler
  with a plain one-line format, but only when neither it nor the root logger has a handler.
- Once the program configures logging (its own handlers on the root logger, `logging.basicConfig`,
  or absl's handler, which `absl.app.run` installs), that default handler stands down and the
  records reach the program's handlers by propagation: every line appears once, in the
  program's format.

To quiet it, raise the logger's level (or call `set_verbosity`):

    import logging
    logging.getLogger("keras_nash").setLevel(logging.WARNING)

Example:

>>> from keras_nash.logs import logger, set_verbosity
>>> set_verbosity("WARNING")  # warnings only
>>> set_verbosity("INFO")  # back to one line per trial
"""

import logging
import sys

__all__ = ["logger", "set_verbosity"]

NAME = "keras_nash"
FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
DATE_FORMAT = "%H:%M:%S"

logger = logging.getLogger(NAME)


class _DefaultHandler(logging.StreamHandler):
    """Writes to the current `sys.stderr` while the root logger has no handler of its own.

    It stands down as soon as the program configures logging, so a record is never written
    both here and by a root handler it propagates to.
    """

    def __init__(self):
        logging.Handler.__init__(self)  # no stream of its own: see `stream`
        self.setFormatter(logging.Formatter(FORMAT, DATE_FORMAT))

    @property
    def stream(self):
        return sys.stderr  # looked up on every record, as logging.lastResort does

    def handle(self, record):
        if logging.getLogger().handlers:
            return False
        return super().handle(record)


def set_verbosity(level) -> None:
    """Set the level of keras_nash's log.

    Args:
        level: a `logging` level or its name: `logging.INFO` ("INFO", one line per trial, the
            default), `logging.WARNING` ("WARNING", quiet), `logging.DEBUG`, or `logging.NOTSET`
            to follow the root logger's level (what the command line does, so absl's
            `--verbosity` applies).

    Example:

    >>> set_verbosity("WARNING")
    >>> logger.getEffectiveLevel() == logging.WARNING
    True
    >>> set_verbosity(logging.INFO)
    """
    logger.setLevel(level.upper() if isinstance(level, str) else level)


def _install_default_handler() -> None:
    """Give the logger its default handler and INFO level, unless logging is already configured."""
    if logger.handlers or logging.getLogger().handlers:
        return
    logger.addHandler(_DefaultHandler())
    logger.setLevel(logging.INFO)


_install_default_handler()
