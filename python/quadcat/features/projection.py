"""Per-example features for quadcat: a random projection that every process reproduces exactly.

LESS (princeton-nlp/LESS) and TRAK project each example's gradient (millions of parameters) to a few
thousand dimensions with a random ±1 matrix. Pool and validation gradients, and the gradients of every
data-parallel rank, must be projected by the same matrix, on any machine and device. The matrix here
is never stored: each entry is a counter-based hash of (seed, row, column), generated block by block
where it is used.

The definition, exactly (all arithmetic modulo 2**64), so that any implementation can reproduce it::

    GOLDEN = 0x9E3779B97F4A7C15
    mix64(z):  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9
               z = (z ^ (z >> 27)) * 0x94D049BB133111EB
               return z ^ (z >> 31)                                  # SplitMix64's finaliser
    W      = ceil(dim / 64)                                          # 64-bit words per matrix row
    state  = mix64(seed)
    word(i, w) = mix64(state + (i * W + w + 1) * GOLDEN)             # SplitMix64 output number i*W + w
    R[i, j]    = (+1 if bit (j % 64) of word(i, j // 64) is set else -1) / sqrt(dim)

for input coordinate (parameter) ``i`` in ``[0, n_params)`` and output column ``j`` in ``[0, dim)``;
``project(g) = g @ R``. The scale 1/sqrt(dim) is LESS's and TRAK's, so inner products are preserved in
expectation. Record it in the catalog with ``--projection quadcat-rademacher:SEED:DIM``
(``projector.identity``): its own kind, because TRAK's ``rademacher`` matrix for the same seed is a
different one, and gradients projected by different matrices must never be compared.
"""
import math
from typing import Any

import numpy as np

_GOLDEN = 0x9E3779B97F4A7C15
_MIX1 = 0xBF58476D1CE4E5B9
_MIX2 = 0x94D049BB133111EB
_MASK = (1 << 64) - 1


def _mix64(z: int) -> int:
    """SplitMix64's finaliser on a Python int (the reference for the vectorised versions)."""
    z = ((z ^ (z >> 30)) * _MIX1) & _MASK
    z = ((z ^ (z >> 27)) * _MIX2) & _MASK
    return z ^ (z >> 31)


def _mix64_torch(z: Any) -> Any:
    """SplitMix64's finaliser on an int64 torch tensor: int64 arithmetic wraps like uint64; right shifts
    are arithmetic, so they are masked to logical ones."""
    z = (z ^ ((z >> 30) & ((1 << 34) - 1))) * _signed(_MIX1)
    z = (z ^ ((z >> 27) & ((1 << 37) - 1))) * _signed(_MIX2)
    return z ^ ((z >> 31) & ((1 << 33) - 1))


def _signed(value: int) -> int:
    """A uint64 bit pattern as the int64 with the same bits (torch has no uint64 arithmetic)."""
    return value - (1 << 64) if value >= 1 << 63 else value


class RademacherProjector:
    """A random ±1/sqrt(dim) projection from ``n_params`` to ``dim`` dimensions, defined by ``seed``
    (see the module documentation for the exact definition).

    >>> projector = RademacherProjector(seed=0, n_params=model_params, dim=8192)
    >>> features = projector.project(per_example_grads)   # (n, n_params) -> (n, 8192), NumPy or torch
    >>> cat.attach("grads.npy", ..., projection=projector)  # records quadcat-rademacher:0:8192

    ``block_entries`` bounds the matrix block generated at a time (``rows x dim`` entries; 4M entries
    are 16 MB of float32). Every call regenerates the blocks it needs: ``n_params x dim`` hashes per
    call, whatever the batch, so project many examples per call.
    """

    kind = "quadcat-rademacher"

    def __init__(self, seed: int, n_params: int, dim: int, *, block_entries: int = 1 << 22,
                 cache_bytes: int = 1 << 30):
        if not 0 <= int(seed) < 1 << 63:
            raise ValueError(f"seed must be in [0, 2**63), got {seed}")
        if int(n_params) <= 0 or int(dim) <= 0:
            raise ValueError(f"n_params and dim must be positive, got n_params={n_params}, dim={dim}")
        self.seed = int(seed)
        self.n_params = int(n_params)
        self.dim = int(dim)
        self.words = (self.dim + 63) // 64
        self.scale = 1.0 / math.sqrt(self.dim)
        self.rows_per_block = max(1, int(block_entries) // self.dim)
        self._state = _mix64(self.seed)
        #: The whole float32 matrix is kept on a device after its first use when it fits in this many
        #: bytes, so a feature run generates it once instead of once per batch.
        self.cache_bytes = int(cache_bytes)
        self._cached: dict = {}

    @property
    def identity(self) -> str:
        """``quadcat-rademacher:SEED:DIM``, for ``attach --projection`` / ``target add --projection``."""
        return f"{self.kind}:{self.seed}:{self.dim}"

    def __repr__(self) -> str:
        return f"RademacherProjector(seed={self.seed}, n_params={self.n_params}, dim={self.dim})"

    # The matrix, a block of rows at a time (unscaled ±1).

    def block(self, start: int, stop: int) -> np.ndarray:
        """Rows ``start..stop-1`` of the ±1 matrix (unscaled), float32, shape ``(stop-start, dim)``."""
        self._check_range(start, stop)
        out = np.empty((stop - start, self.dim), dtype=np.float32)
        self._fill_block(start, stop, out)
        return out

    def _fill_block(self, start: int, stop: int, out: np.ndarray) -> None:
        rows = np.arange(start, stop, dtype=np.uint64)[:, None]
        words = np.arange(self.words, dtype=np.uint64)[None, :]
        with np.errstate(over="ignore"):
            z = np.uint64(self._state) + (rows * np.uint64(self.words) + words + np.uint64(1)) * np.uint64(_GOLDEN)
            z = (z ^ (z >> np.uint64(30))) * np.uint64(_MIX1)
            z = (z ^ (z >> np.uint64(27))) * np.uint64(_MIX2)
            z = z ^ (z >> np.uint64(31))
        bits = np.unpackbits(z.astype("<u8").view(np.uint8), axis=1, bitorder="little")[:, :self.dim]
        # In place, into a reused buffer: generating the block costs more than multiplying by it.
        np.multiply(bits, np.float32(2), out=out, casting="unsafe")
        np.subtract(out, np.float32(1), out=out)

    def block_torch(self, start: int, stop: int, device: Any = None) -> Any:
        """:meth:`block` as a float32 torch tensor generated on ``device`` (same values, bit for bit)."""
        import torch
        self._check_range(start, stop)
        rows = torch.arange(start, stop, dtype=torch.int64, device=device)[:, None]
        words = torch.arange(self.words, dtype=torch.int64, device=device)[None, :]
        z = _mix64_torch(_signed(self._state) + (rows * self.words + words + 1) * _signed(_GOLDEN))
        # Each byte (little-endian, as on every torch device) expands to its 8 signs through a table.
        signs = _byte_signs(torch, device)[z.contiguous().view(torch.uint8).long()]
        return signs.reshape(stop - start, self.words * 64)[:, :self.dim]

    def _check_range(self, start: int, stop: int) -> None:
        if not 0 <= start <= stop <= self.n_params:
            raise ValueError(f"rows {start}..{stop} are outside the matrix's {self.n_params} rows")

    # Projecting.

    def project(self, gradients: Any) -> Any:
        """Projects ``gradients`` (``(n, n_params)`` or ``(n_params,)``) to ``(n, dim)`` (or ``(dim,)``),
        float32.

        A NumPy array gives a NumPy array; a torch tensor gives a tensor on its own device, the matrix
        generated there. The matrix is the same everywhere; the sums agree to float32 rounding (BLAS
        libraries and devices add in different orders).
        """
        if type(gradients).__module__.split(".", 1)[0] == "torch":
            return self._project_torch(gradients)
        g = np.asarray(gradients)
        single = g.ndim == 1
        g = self._check_shape(g[None, :] if single else g)
        out = np.zeros((g.shape[0], self.dim), dtype=np.float32)
        block = np.empty((min(self.rows_per_block, self.n_params), self.dim), dtype=np.float32)
        for start in range(0, self.n_params, self.rows_per_block):
            stop = min(self.n_params, start + self.rows_per_block)
            self._fill_block(start, stop, block[:stop - start])
            out += g[:, start:stop].astype(np.float32, copy=False) @ block[:stop - start]
        out *= np.float32(self.scale)
        return out[0] if single else out

    def _project_torch(self, gradients: Any) -> Any:
        import torch
        single = gradients.ndim == 1
        g = self._check_shape(gradients.detach()[None, :] if single else gradients.detach())
        out = torch.zeros((g.shape[0], self.dim), dtype=torch.float32, device=g.device)
        for start in range(0, self.n_params, self.rows_per_block):
            stop = min(self.n_params, start + self.rows_per_block)
            out += g[:, start:stop].to(torch.float32) @ self.block_torch(start, stop, g.device)
        out *= self.scale
        return out[0] if single else out

    def accumulate(self, out: Any, gradients: Any, start: int) -> None:
        """Adds the projection of coordinates ``start .. start + n`` of a batch of gradients to ``out``:
        ``out += gradients @ R[start:start + n]`` (unscaled by 1/sqrt(dim); :meth:`finish` scales).

        ``gradients``: a ``(batch, n)`` float32 torch tensor, one slice of the flattened gradient (one
        module's parameters), so a whole gradient is never concatenated. The matrix rows come from the
        device cache when the matrix fits in ``cache_bytes``, else they are generated for this call.
        """
        n = gradients.shape[1]
        self._check_range(start, start + n)
        matrix = self._device_matrix(gradients.device)
        if matrix is not None:
            out.addmm_(gradients, matrix[start:start + n])
            return
        for begin in range(start, start + n, self.rows_per_block):
            end = min(start + n, begin + self.rows_per_block)
            out.addmm_(gradients[:, begin - start:end - start], self.block_torch(begin, end, gradients.device))

    def finish(self, out: Any) -> Any:
        """Scales an accumulated projection by 1/sqrt(dim) (in place) and returns it."""
        return out.mul_(self.scale)

    def _device_matrix(self, device: Any) -> Any:
        if self.n_params * self.dim * 4 > self.cache_bytes:
            return None
        key = str(device)
        if key not in self._cached:
            import torch
            matrix = torch.empty((self.n_params, self.dim), dtype=torch.float32, device=device)
            for begin in range(0, self.n_params, self.rows_per_block):
                end = min(self.n_params, begin + self.rows_per_block)
                matrix[begin:end] = self.block_torch(begin, end, device)
            self._cached[key] = matrix
        return self._cached[key]

    def _check_shape(self, g: Any) -> Any:
        if g.ndim != 2 or g.shape[1] != self.n_params:
            raise ValueError(f"expected gradients of shape (n, {self.n_params}) or ({self.n_params},), got {tuple(g.shape)}")
        return g


_BYTE_SIGNS = np.unpackbits(np.arange(256, dtype=np.uint8)[:, None], axis=1, bitorder="little").astype(np.float32) * 2 - 1
_byte_signs_on: dict = {}


def _byte_signs(torch: Any, device: Any) -> Any:
    """The 256 x 8 table of ±1 signs of each byte's bits (least significant first), on ``device``."""
    key = str(device)
    if key not in _byte_signs_on:
        _byte_signs_on[key] = torch.from_numpy(_BYTE_SIGNS).to(device)
    return _byte_signs_on[key]


class SparseSignProjector:
    """A sparse Johnson-Lindenstrauss projection (sparse JL / CountSketch with ``nonzeros`` signs per
    input coordinate, Kane and Nelson's block construction, as dattri's ``sjlt``): quadcat's default
    for feature runs, because its cost is ``nonzeros`` multiply-adds per coordinate instead of
    ``dim``, small next to the backward pass that made the gradient.

    The matrix, exactly (SplitMix64 as in the module documentation; ``c = nonzeros``, ``b = dim // c``)::

        state      = mix64(seed)
        word(i, k) = mix64(state + (i * c + k + 1) * GOLDEN)          # k in [0, c)
        bucket     = k * b + (word >> 32) % b                          # one bucket in each of c blocks
        S[i, bucket] = (+1 if word & 1 else -1) / sqrt(c)              # every other entry 0

    so each column block of the matrix is a CountSketch and a coordinate's ``c`` entries never share
    a bucket. Inner products are preserved in expectation, with JL's variance. The identity is
    ``quadcat-sjltC:SEED:DIM`` (C the nonzeros): a different kind from the dense Rademacher matrix,
    so columns projected by the two are never compared.
    """

    def __init__(self, seed: int, n_params: int, dim: int, *, nonzeros: int = 4, cache_bytes: int = 1 << 30):
        if not 0 <= int(seed) < 1 << 63:
            raise ValueError(f"seed must be in [0, 2**63), got {seed}")
        if int(n_params) <= 0 or int(dim) <= 0:
            raise ValueError(f"n_params and dim must be positive, got n_params={n_params}, dim={dim}")
        if int(nonzeros) <= 0 or int(dim) % int(nonzeros):
            raise ValueError(f"nonzeros ({nonzeros}) must be positive and divide dim ({dim})")
        self.seed = int(seed)
        self.n_params = int(n_params)
        self.dim = int(dim)
        self.nonzeros = int(nonzeros)
        self.block = self.dim // self.nonzeros
        self.scale = 1.0 / math.sqrt(self.nonzeros)
        self.cache_bytes = int(cache_bytes)
        self._state = _mix64(self.seed)
        self._cached: dict = {}

    kind = "quadcat-sjlt"

    @property
    def identity(self) -> str:
        """``quadcat-sjltC:SEED:DIM``, for ``attach --projection`` / ``target add --projection``."""
        return f"{self.kind}{self.nonzeros}:{self.seed}:{self.dim}"

    def __repr__(self) -> str:
        return f"SparseSignProjector(seed={self.seed}, n_params={self.n_params}, dim={self.dim}, nonzeros={self.nonzeros})"

    def buckets_and_signs(self, start: int, stop: int, device: Any = None) -> Any:
        """For coordinates ``start..stop-1``: their buckets (int64, ``(n, c)``) and signs (float32 ±1)."""
        import torch
        if not 0 <= start <= stop <= self.n_params:
            raise ValueError(f"rows {start}..{stop} are outside the matrix's {self.n_params} rows")
        rows = torch.arange(start, stop, dtype=torch.int64, device=device)[:, None]
        ks = torch.arange(self.nonzeros, dtype=torch.int64, device=device)[None, :]
        z = _mix64_torch(_signed(self._state) + (rows * self.nonzeros + ks + 1) * _signed(_GOLDEN))
        high = (z >> 32) & 0xFFFFFFFF
        buckets = ks * self.block + high % self.block
        signs = (z & 1).to(torch.float32) * 2 - 1
        return buckets, signs

    def accumulate(self, out: Any, gradients: Any, start: int) -> None:
        """Adds the (unscaled) projection of coordinates ``start .. start + n`` of a ``(batch, n)``
        float32 tensor to ``out`` (``(batch, dim)``); :meth:`finish` scales.

        The slice's part of the matrix is kept as a sparse CSR matrix (``dim x n``, ``c`` entries per
        coordinate) per slice and device: a sparse-dense product is about twice as fast on a CPU as
        scattering with ``index_add_``, measured on LoRA-sized slices."""
        n = gradients.shape[1]
        out.add_((self._slice_matrix(start, n, gradients.device) @ gradients.t()).t())

    def finish(self, out: Any) -> Any:
        """Scales an accumulated projection by 1/sqrt(nonzeros) (in place) and returns it."""
        return out.mul_(self.scale)

    def _slice_matrix(self, start: int, n: int, device: Any) -> Any:
        import torch
        key = (str(device), start, n)
        matrix = self._cached.get(key)
        if matrix is None:
            buckets, signs = self.buckets_and_signs(start, start + n, device)
            columns = torch.arange(n, dtype=torch.int64, device=device).repeat_interleave(self.nonzeros)
            coo = torch.sparse_coo_tensor(torch.stack([buckets.reshape(-1), columns]), signs.reshape(-1), (self.dim, n))
            matrix = coo.coalesce().to_sparse_csr()
            if (len(self._cached) + 1) * n * self.nonzeros * 12 <= self.cache_bytes:
                self._cached[key] = matrix
        return matrix

    def project(self, gradients: Any) -> Any:
        """Projects ``(n, n_params)`` gradients (a torch tensor) to ``(n, dim)`` float32."""
        import torch
        g = gradients.detach().to(torch.float32)
        if g.ndim != 2 or g.shape[1] != self.n_params:
            raise ValueError(f"expected gradients of shape (n, {self.n_params}), got {tuple(g.shape)}")
        out = torch.zeros((g.shape[0], self.dim), dtype=torch.float32, device=g.device)
        self.accumulate(out, g, 0)
        return self.finish(out)


def projector_for(identity: str, n_params: int) -> Any:
    """The projector an identity string names (``quadcat-rademacher:SEED:DIM`` or
    ``quadcat-sjltC:SEED:DIM``) for a gradient of ``n_params`` coordinates."""
    parts = identity.split(":")
    if len(parts) != 3 or not parts[1].isdigit() or not parts[2].isdigit():
        raise ValueError(f"projection {identity!r} is not KIND:SEED:DIM")
    kind, seed, dim = parts[0], int(parts[1]), int(parts[2])
    if kind == RademacherProjector.kind:
        return RademacherProjector(seed, n_params, dim)
    if kind.startswith(SparseSignProjector.kind) and kind[len(SparseSignProjector.kind):].isdigit():
        return SparseSignProjector(seed, n_params, dim, nonzeros=int(kind[len(SparseSignProjector.kind):]))
    raise ValueError(f"unknown projection kind {kind!r}: quadcat computes quadcat-rademacher and quadcat-sjltC")


def reference_entry(seed: int, dim: int, row: int, column: int) -> float:
    """One entry R[row, column] of the (scaled) matrix, computed the slow, obvious way: the definition
    in plain Python integers, for checking other implementations."""
    words = (dim + 63) // 64
    word = _mix64((_mix64(seed) + (row * words + column // 64 + 1) * _GOLDEN) & _MASK)
    return (1.0 if (word >> (column % 64)) & 1 else -1.0) / math.sqrt(dim)


__all__ = ["RademacherProjector", "SparseSignProjector", "projector_for", "reference_entry"]
