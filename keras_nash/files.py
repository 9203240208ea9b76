"""Files a kill cannot tear: every file a search writes goes through `replace_atomically`.

A search killed at any instant must find, on restart, each of its files either as it was or as
it was meant to be, never half written. `replace_atomically` lets a writer fill a temporary file
beside the target, then moves it over the target in one step (`os.replace`, atomic on POSIX and
Windows within one file system); a kill before the move leaves the old file and a stray
temporary one (`.tmp<pid>.<name>`, which a later write of the same file replaces).
"""

import json
import os


def replace_atomically(path: str, write) -> None:
    """Call `write(temporary_path)`, then move the written file to `path` in one step.

    The temporary file is in `path`'s directory and ends with `path`'s file name, so writers
    that check the suffix (`model.save_weights` wants `.weights.h5`, `np.savez` adds `.npz`
    unless it is there) accept it.

    Args:
        path: str, the file to (re)write.
        write: a function of the temporary path that writes the file's new content there.

    Example:

    >>> import os, tempfile
    >>> from keras_nash.files import replace_atomically
    >>> path = os.path.join(tempfile.mkdtemp(), "note.txt")
    >>> replace_atomically(path, lambda tmp: open(tmp, "w").write("done"))
    >>> open(path).read(), os.listdir(os.path.dirname(path))
    ('done', ['note.txt'])
    """
    directory, name = os.path.split(os.path.abspath(path))
    temporary = os.path.join(directory, f".tmp{os.getpid()}.{name}")
    try:
        write(temporary)
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)


def write_text(path: str, text: str) -> None:
    """Write `text` to `path` by atomic replace."""

    def write(temporary):
        with open(temporary, "w", encoding="utf-8") as f:
            f.write(text)

    replace_atomically(path, write)


def write_json(path: str, data) -> None:
    """Write `data` as JSON to `path` by atomic replace."""
    write_text(path, json.dumps(data))
