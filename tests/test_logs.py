"""Tests for keras_nash/logs.py: progress lines reach a plain script, and appear once under absl."""

import contextlib
import logging
import pathlib
import subprocess
import sys

import pytest

from keras_nash import logs

ROOT = pathlib.Path(__file__).resolve().parents[1]

# A plain script logs first (no logging set-up at all), then becomes an absl program.
_SCRIPT = """
from absl import app
from absl import logging as absl_logging

from keras_nash.logs import logger

logger.info("plain script line %d", 1)
logger.debug("a debug line")

def main(argv):
    absl_logging.set_verbosity(absl_logging.INFO)
    logger.info("absl program line")

app.run(main)
"""


def test_a_plain_script_sees_info_lines_and_an_absl_program_sees_each_line_once():
    result = subprocess.run(
        [sys.executable, "-c", _SCRIPT], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-3000:]
    lines = result.stderr.splitlines()
    plain = [line for line in lines if "plain script line 1" in line]
    assert len(plain) == 1 and plain[0].endswith("INFO keras_nash: plain script line 1"), lines
    assert "a debug line" not in result.stderr
    absl = [line for line in lines if "absl program line" in line]
    assert len(absl) == 1 and absl[0].startswith("I"), (
        lines
    )  # absl's format: I0101 12:00:00.000 ...


@contextlib.contextmanager
def _unconfigured(monkeypatch):
    """Logging as a plain script has it when it imports keras_nash: no handler anywhere.

    Entered inside a test, not in a fixture: pytest adds its handlers to the root logger at the
    start of every test phase (and had them there when keras_nash.logs was imported).
    """
    level = logs.logger.level
    with monkeypatch.context() as patch:
        patch.setattr(logging.getLogger(), "handlers", [])
        patch.setattr(logs.logger, "handlers", [])
        logs._install_default_handler()  # what importing keras_nash.logs does
        try:
            yield
        finally:
            logs.set_verbosity(level)


def test_default_handler_writes_to_stderr_until_logging_is_configured(monkeypatch, capsys):
    with _unconfigured(monkeypatch):
        assert [type(h) for h in logs.logger.handlers] == [logs._DefaultHandler]
        logs.logger.info("trial %s done", "0001")
        assert capsys.readouterr().err.endswith("INFO keras_nash: trial 0001 done\n")
        root_handler = logging.StreamHandler(sys.stdout)
        logging.getLogger().addHandler(
            root_handler
        )  # the program configures logging: its handler only
        logs.logger.info("trial %s done", "0002")
        captured = capsys.readouterr()
    assert captured.out == "trial 0002 done\n" and captured.err == ""


def test_set_verbosity_silences_and_restores(monkeypatch, capsys):
    with _unconfigured(monkeypatch):
        logs.set_verbosity("warning")
        logs.logger.info("hidden")
        logs.logger.warning("shown")
        logs.set_verbosity(logging.INFO)
        logs.logger.info("shown again")
        with pytest.raises(ValueError, match="BOGUS"):
            logs.set_verbosity("bogus")
    err = capsys.readouterr().err
    assert "hidden" not in err and "WARNING keras_nash: shown" in err and "shown again" in err
