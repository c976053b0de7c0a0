"""The resumable work directory of a feature run: preallocated matrices with a per-row done map.

A run's matrices live beside the catalog (``CATALOG-features/RUNKEY/``), never inside it, until every
row is computed; only then are they attached, the catalog's SQLite commit last. A row is marked done
only after its values are flushed to the matrix file, so a run killed at any point (SIGKILL included)
restarts with the rows it had finished and recomputes the rest in the same batches: the columns come
out bit for bit as an uninterrupted run's. ``RUNKEY`` hashes everything that decides the values (model,
checkpoints, corpus size, projection, preconditioner, tokenization), so a changed request never
resumes a stale run.
"""
import hashlib
import json
import os
import shutil
import time
from pathlib import Path
from typing import Any, Dict, Mapping, Optional

import numpy as np


class ResumableMatrix:
    """A ``rows x dim`` float32 ``.npy`` (a memmap) and its done map (one byte per row).

    Values go into the shared mapping as they are computed; done marks are held back and written
    only by :meth:`sync`, after the values are flushed to disk (``msync``). A killed process loses
    nothing of the page cache, and a machine that goes down loses at most the rows since the last sync:
    in both cases a done mark on disk always has its values on disk too. ``sync_seconds`` bounds how
    often that costs a flush (every batch would be slower than a tiny model's batch itself).
    """

    def __init__(self, path: Path, rows: int, dim: int, create: bool, sync_seconds: float = 5.0):
        self.path = path
        self.done_path = path.with_suffix(".done")
        if create or not self.path.exists():
            self.values = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(rows, dim))
            done = np.lib.format.open_memmap(self.done_path, mode="w+", dtype=np.uint8, shape=(rows,))
            done.flush()
        else:
            self.values = np.load(path, mmap_mode="r+")
            if self.values.shape != (rows, dim):
                raise ValueError(f"{path} holds {self.values.shape}, this run needs {(rows, dim)}: remove {path.parent} to start over")
        self.done = np.load(self.done_path, mmap_mode="r+")
        self.sync_seconds = sync_seconds
        self._unsynced: list = []
        self._last_sync = time.monotonic()

    def write(self, rows: np.ndarray, values: np.ndarray) -> None:
        """Writes the values of ``rows`` into the mapping."""
        self.values[rows] = values

    def mark_done(self, rows: np.ndarray) -> None:
        """Marks ``rows`` finished: on disk at the next :meth:`sync` (at most ``sync_seconds`` from now)."""
        self._unsynced.append(np.asarray(rows))
        if time.monotonic() - self._last_sync >= self.sync_seconds:
            self.sync()

    def sync(self) -> None:
        """Flushes the values, then writes and flushes the held-back done marks."""
        if not self._unsynced:
            return
        self.values.flush()
        for rows in self._unsynced:
            self.done[rows] = 1
        self.done.flush()
        self._unsynced.clear()
        self._last_sync = time.monotonic()

    def is_done(self, rows: np.ndarray) -> bool:
        return bool(self.done[rows].all())


class WorkDirectory:
    """``CATALOG-features/RUNKEY/``: ``run.json`` (the request), the matrices, and ``attached.json``
    (which outputs are already in the catalog, for a run killed while attaching)."""

    def __init__(self, catalog: Path, request: Mapping[str, Any], root: Optional[Path] = None):
        canonical = json.dumps(request, sort_keys=True, separators=(",", ":"))
        self.key = hashlib.sha256(canonical.encode()).hexdigest()[:16]
        base = Path(root) if root is not None else catalog.parent / f"{catalog.name}-features"
        self.path = base / self.key
        self.request = dict(request)
        self.resumed = (self.path / "run.json").is_file()
        #: The request as the run that made the directory saved it (with what it noted at its start).
        self.saved = json.loads((self.path / "run.json").read_text()) if self.resumed else {}

    def create(self) -> None:
        """Makes the directory and writes ``run.json`` (atomically) when new."""
        self.path.mkdir(parents=True, exist_ok=True)
        if not self.resumed:
            temporary = self.path / ".run.json.writing"
            temporary.write_text(json.dumps(self.request, sort_keys=True, indent=1))
            os.replace(temporary, self.path / "run.json")

    def matrix(self, name: str, rows: int, dim: int, sync_seconds: float = 5.0) -> ResumableMatrix:
        path = self.path / f"{name}.npy"
        return ResumableMatrix(path, rows, dim, create=not (path.exists() and path.with_suffix(".done").exists()),
                               sync_seconds=sync_seconds)

    def attached(self) -> Dict[str, Any]:
        path = self.path / "attached.json"
        return json.loads(path.read_text()) if path.is_file() else {}

    def mark_attached(self, output: str, report: Any = None) -> None:
        done = self.attached()
        done[output] = report if report is not None else True
        temporary = self.path / ".attached.json.writing"
        temporary.write_text(json.dumps(done, indent=1))
        os.replace(temporary, self.path / "attached.json")

    def remove(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)
        try:
            self.path.parent.rmdir()  # only when no other run is there
        except OSError:
            pass


__all__ = ["ResumableMatrix", "WorkDirectory"]
