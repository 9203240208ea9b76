"""Scripts the tests run in fresh processes (`python -m tests.scripts.NAME`), and their shared
set-ups."""
