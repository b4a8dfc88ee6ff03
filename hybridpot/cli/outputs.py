"""Where the command line writes: inside the working folder unless a path is given explicitly, and
never over an existing file before the new one is complete."""

from __future__ import annotations

import contextlib
import os
import sys


def check_output(path: str, option: str) -> str:
    """``path`` if the command may write there; a note on stderr when it is outside the working folder.

    A relative path that leaves the working folder (``../x``, ``a/../../x``) is refused: outside it
    only an absolute path, given on purpose, is written to, and reported.

    Args:
        path: the output file or folder as given.
        option: the option or key that gave it (for the messages), e.g. ``--out``.
    Raises:
        ValueError: a relative path outside the working folder.
    """
    path = os.fspath(path)
    here = os.path.abspath(os.getcwd())
    target = os.path.abspath(path)
    inside = os.path.commonpath([here, target]) == here
    if not inside and not os.path.isabs(path):
        raise ValueError(f"{option} {path!r} leads outside the working folder ({target}); "
                         "give an absolute path to write there on purpose")
    if not inside:
        print(f"hybridpot: note: {option} writes outside the working folder, to {target}", file=sys.stderr)
    return path


@contextlib.contextmanager
def replace_when_done(path: str):
    """Yield a temporary file name beside ``path`` (``.<name>.<random>.tmp<ext>``: writers that pick
    their format from the extension still do) and move it onto ``path`` when the block completes.

    If the block raises, the partial file is removed and an existing ``path`` stays as it was;
    callers that want to keep a partial result on some error catch it inside the block.
    """
    from hybridpot._store import temporary_file

    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fd, tmp = temporary_file(path, suffix=".tmp" + os.path.splitext(path)[1])
    os.close(fd)
    try:
        yield tmp
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    os.replace(tmp, path)
