"""Where the project's shared data (``shared/data/<name>/``, read in place, never copied) lives."""

from __future__ import annotations

import os
from pathlib import Path

#: Environment variable naming the ``shared/data`` folder.
SHARED_DATA_ENV = "HYBRIDPOT_SHARED_DATA"


def shared_data_folder(name: str, shared_dir=None) -> Path:
    """The folder of shared data set ``name`` (``"diatomic"``, ``"md17"``, ``"qm9"``).

    ``shared_dir`` (that folder itself) wins; else ``$HYBRIDPOT_SHARED_DATA/<name>``; else
    ``shared/data/<name>`` beside the repository root.
    """
    if shared_dir is not None:
        return Path(shared_dir)
    env = os.environ.get(SHARED_DATA_ENV)
    if env:
        return Path(env) / name
    return Path(__file__).resolve().parents[2].parent / "shared" / "data" / name
