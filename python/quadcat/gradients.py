"""GradientWriter: per-example gradients from a PyTorch or NumPy loop into the .npy file that
``quadcat attach`` reads, with bounded memory.

The file is a NumPy memmap (TRAK's pattern, ``trak/savers.py``): batches are written where they belong
and the operating system pages them out, so memory holds one batch whatever the file size. It is
written beside its destination as ``.NAME.writing`` and renamed into place only when complete, so a
file at ``path`` is always whole; a failure removes the temporary file.
"""
import os
from pathlib import Path
from typing import Any, Optional, Sequence, Union

import numpy as np

PathLike = Union[str, "os.PathLike[str]"]

_DTYPES = {"float16": np.dtype("<f2"), "float32": np.dtype("<f4")}


class GradientWriter:
    """Writes a ``rows x dim`` gradient matrix to ``path`` (a ``.npy`` that ``quadcat attach`` reads),
    one batch at a time.

    ``dtype``: ``"float16"`` (half the disk; what LESS stores) or ``"float32"``. Batches are NumPy
    arrays or torch tensors on any device (moved to the CPU here, after the cast, so a float16 file
    moves half the bytes). Every batch is checked: shape ``(n, dim)``, rows in range and not written
    before, every value finite after the cast (a NaN, an infinity or a value beyond float16's range
    is refused, naming the row).

    Closing a file before every row was written is refused, unless ``partial=True``: then the rows
    written are kept (in row order) and ``ids_path`` (default ``PATH`` with suffix ``.ids``) lists the
    document id of each, from ``ids`` (the corpus ids, one per row), for ``quadcat attach --ids``.

    >>> with quadcat.GradientWriter("grads_ckpt1.npy", rows=len(pool), dim=8192) as writer:
    ...     for batch in loader:
    ...         writer.write(projector.project(per_example_grads(batch)))   # rows in order
    ...         # or writer.write(g, rows=batch["row"]) for rows in any order
    """

    def __init__(self, path: PathLike, rows: int, dim: int, dtype: str = "float16", *, partial: bool = False,
                 ids: Optional[Sequence[str]] = None, ids_path: Optional[PathLike] = None,
                 allow_nonfinite: bool = False, flush_bytes: int = 256 << 20):
        if dtype not in _DTYPES:
            raise ValueError(f"dtype must be 'float16' or 'float32' (what quadcat attach reads), not {dtype!r}")
        if int(rows) <= 0 or int(dim) <= 0:
            raise ValueError(f"rows and dim must be positive, got rows={rows}, dim={dim}")
        if partial and ids is None:
            raise ValueError("partial=True needs ids: the corpus document id of every row, to write the ids file for attach --ids")
        if ids is not None and len(ids) != rows:
            raise ValueError(f"ids names {len(ids)} documents, rows is {rows}: give one id per row")
        self.path = Path(path)
        self.rows = int(rows)
        self.dim = int(dim)
        self.dtype = _DTYPES[dtype]
        self.partial = partial
        self.ids = ids
        self.ids_path = Path(ids_path) if ids_path is not None else self.path.with_suffix(".ids")
        #: Keep rows holding NaN or infinity (counted in ``nonfinite_rows``) instead of refusing them;
        #: attach them with ``nonfinite="mark-unusable"``.
        self.allow_nonfinite = allow_nonfinite
        self.nonfinite_rows = 0
        self._flush_bytes = flush_bytes
        if self.path.is_dir():
            raise ValueError(f"{self.path} is a directory; give a file name such as grads_ckpt1.npy")
        if not self.path.parent.is_dir():
            raise FileNotFoundError(f"cannot write {self.path}: the directory {self.path.parent} does not exist")
        self._temporary = self.path.with_name(f".{self.path.name}.writing")
        self._array: Optional[np.memmap] = np.lib.format.open_memmap(
            self._temporary, mode="w+", dtype=self.dtype, shape=(self.rows, self.dim))
        self._written = np.zeros(self.rows, dtype=bool)
        self._cursor = 0
        self._unflushed = 0

    # Writing.

    def write(self, batch: Any, rows: Union[None, int, Sequence[int], np.ndarray, Any] = None) -> None:
        """Writes ``batch`` (``n x dim``) at ``rows``: ``None`` for the next ``n`` rows in order, an int for
        the first of ``n`` consecutive rows, or ``n`` row numbers (NumPy, list or tensor) in any order."""
        array = self._require_open()
        values, source = _as_numpy(batch, self.dtype)
        if values.ndim != 2 or values.shape[1] != self.dim:
            raise ValueError(f"expected a batch of shape (n, {self.dim}), got {tuple(values.shape)}")
        n = values.shape[0]
        start, indices = self._placement(rows, n)
        self._check_finite(values, source, start, indices)
        if indices is None:
            array[start:start + n] = values
            self._written[start:start + n] = True
            self._cursor = start + n
        else:
            array[indices] = values
            self._written[indices] = True
            self._cursor = int(indices.max()) + 1 if n else self._cursor
        self._unflushed += values.nbytes
        if self._unflushed >= self._flush_bytes:
            array.flush()  # bounds the dirty pages the kernel holds for us
            self._unflushed = 0

    def _placement(self, rows: Any, n: int):
        """(start, None) for consecutive rows, (None, indices) for explicit ones; refuses rows out of range
        or written before."""
        if rows is None or isinstance(rows, (int, np.integer)):
            start = self._cursor if rows is None else int(rows)
            if start < 0 or start + n > self.rows:
                raise ValueError(f"rows {start}..{start + n - 1} are outside the file's {self.rows} rows (0..{self.rows - 1})")
            already = np.flatnonzero(self._written[start:start + n])
            if already.size:
                raise ValueError(f"row {start + int(already[0])} was already written; each row is written once")
            return start, None
        indices = np.asarray(_as_numpy_index(rows), dtype=np.int64).reshape(-1)
        if indices.size != n:
            raise ValueError(f"rows names {indices.size} rows for a batch of {n}")
        outside = indices[(indices < 0) | (indices >= self.rows)]
        if outside.size:
            raise ValueError(f"row {int(outside[0])} is outside the file's {self.rows} rows (0..{self.rows - 1})")
        unique, counts = np.unique(indices, return_counts=True)
        if (counts > 1).any():
            raise ValueError(f"row {int(unique[counts > 1][0])} appears twice in one batch "
                             "(a DistributedSampler pads the last batch by repeating rows: drop the repeats)")
        already = indices[self._written[indices]]
        if already.size:
            raise ValueError(f"row {int(already[0])} was already written; each row is written once")
        return None, indices

    def _check_finite(self, values: np.ndarray, source: Any, start: Optional[int], indices: Optional[np.ndarray]) -> None:
        bad = np.flatnonzero(~np.isfinite(values).all(axis=1))
        if not bad.size:
            return
        if self.allow_nonfinite:
            self.nonfinite_rows += int(bad.size)
            return
        first = int(bad[0])
        row = start + first if indices is None else int(indices[first])
        original = _row_as_float64(source, first)
        if np.isfinite(original).all():
            what = f"a value beyond float16's range (largest magnitude {np.abs(original).max():.4g} > 65504); write float32 or scale the gradients"
        elif np.isnan(original).any():
            what = "NaN"
        else:
            what = "an infinity"
        raise ValueError(f"row {row} (batch row {first}) holds {what}; nothing of this batch was written"
                         + (f" ({bad.size} rows of the batch are affected)" if bad.size > 1 else ""))

    # Finishing.

    @property
    def rows_written(self) -> int:
        return int(self._written.sum())

    def missing_rows(self) -> np.ndarray:
        """Row numbers not written yet."""
        return np.flatnonzero(~self._written)

    def close(self) -> None:
        """Completes the file: renames it into place (and, with ``partial``, keeps only the written rows
        and writes the ids file). Refuses an incomplete file without ``partial`` (and removes it)."""
        if self._array is None:
            return
        missing = self.missing_rows()
        if missing.size and not self.partial:
            self.abort()
            raise ValueError(
                f"{self.path}: {missing.size} of {self.rows} rows were never written (first: "
                f"{', '.join(str(r) for r in missing[:5])}); nothing was kept. Write every row, or pass "
                "partial=True with ids= to keep the rows written and attach them with --ids")
        self._array.flush()
        self._array = None
        try:
            if self.partial:
                self._keep_written_rows()
            os.replace(self._temporary, self.path)
        except BaseException:
            self._remove_temporary()
            raise

    def abort(self) -> None:
        """Stops without keeping anything: removes the temporary file."""
        self._array = None
        self._remove_temporary()

    def _keep_written_rows(self) -> None:
        """Rewrites the temporary file with only the rows written, in row order, block by block, and
        writes the ids file beside (temporary, then renamed)."""
        written = np.flatnonzero(self._written)
        if written.size == 0:
            raise ValueError(f"{self.path}: no row was written; nothing to keep")
        if written.size < self.rows:
            source = np.load(self._temporary, mmap_mode="r")
            compact_path = self._temporary.with_name(self._temporary.name + ".compact")
            compact = np.lib.format.open_memmap(compact_path, mode="w+", dtype=self.dtype, shape=(written.size, self.dim))
            block = max(1, (64 << 20) // (self.dim * self.dtype.itemsize))
            for begin in range(0, written.size, block):
                compact[begin:begin + block] = source[written[begin:begin + block]]
            compact.flush()
            del compact, source
            os.replace(compact_path, self._temporary)
        ids_temporary = self.ids_path.with_name(f".{self.ids_path.name}.writing")
        with open(ids_temporary, "w", encoding="utf-8") as file:
            for row in written:
                file.write(f"{self.ids[int(row)]}\n")  # type: ignore[index]
        os.replace(ids_temporary, self.ids_path)

    def _remove_temporary(self) -> None:
        for path in (self._temporary, self._temporary.with_name(self._temporary.name + ".compact")):
            try:
                path.unlink()
            except FileNotFoundError:
                pass

    def _require_open(self) -> np.memmap:
        if self._array is None:
            raise ValueError(f"{self.path}: the writer is closed")
        return self._array

    def __enter__(self) -> "GradientWriter":
        return self

    def __exit__(self, exc_type: Any, exc: Any, traceback: Any) -> None:
        if exc_type is not None:
            self.abort()  # the loop failed: keep nothing, raise its error
        else:
            self.close()

    def __repr__(self) -> str:
        state = "closed" if self._array is None else f"{self.rows_written} of {self.rows} rows written"
        return f"<GradientWriter {os.fspath(self.path)!r} {self.rows}x{self.dim} {self.dtype.name}: {state}>"


def _is_torch(value: Any) -> bool:
    return type(value).__module__.split(".", 1)[0] == "torch"


def _as_numpy(batch: Any, dtype: np.dtype):
    """``batch`` cast to ``dtype`` as a C-contiguous NumPy array, and the source (to explain a
    non-finite value). A tensor is cast on its own device, then copied to the CPU."""
    if _is_torch(batch):
        import torch
        target = torch.float16 if dtype == np.float16 else torch.float32
        tensor = batch.detach()
        return tensor.to(dtype=target).cpu().numpy(), tensor
    array = np.asarray(batch)
    if array.dtype.kind not in "fiu":
        raise TypeError(f"gradients must be a float array or tensor, not {array.dtype}")
    with np.errstate(over="ignore", invalid="ignore"):
        return np.ascontiguousarray(array.astype(dtype, copy=False)), array


def _row_as_float64(source: Any, row: int) -> np.ndarray:
    if _is_torch(source):
        return source[row].double().cpu().numpy()
    return np.asarray(source[row], dtype=np.float64)


def _as_numpy_index(rows: Any) -> Any:
    return rows.detach().cpu().numpy() if _is_torch(rows) else rows
