"""RademacherProjector: the documented matrix, generated block by block, the same in NumPy and torch."""
import math

import numpy as np
import pytest

from quadcat.features import RademacherProjector, reference_entry
from conftest import column

try:
    import torch
except ImportError:
    torch = None
needs_torch = pytest.mark.skipif(torch is None, reason="torch is not installed (make test does not install its multi-GB wheel)")


def test_blocks_follow_the_documented_definition_entry_by_entry():
    projector = RademacherProjector(seed=2**62 + 12345, n_params=700, dim=130)  # dim not a multiple of 64
    matrix = projector.block(0, 700)
    rng = np.random.default_rng(0)
    for row, col in zip(rng.integers(0, 700, 300), rng.integers(0, 130, 300)):
        assert matrix[row, col] / math.sqrt(130) == pytest.approx(reference_entry(projector.seed, 130, int(row), int(col)), rel=1e-7)
    for col in (0, 63, 64, 127, 128, 129):
        assert matrix[699, col] * reference_entry(projector.seed, 130, 699, col) > 0
    assert set(np.unique(matrix)) == {-1.0, 1.0} and abs(matrix.mean()) < 0.02


def test_the_definition_is_pinned():
    """The first signs of seed 0, dim 64: a change to the definition (and so to every recorded
    quadcat-rademacher projection) fails here."""
    signs = "".join("+" if x > 0 else "-" for x in RademacherProjector(0, 2, 64).block(0, 2).ravel()[:24])
    assert signs == "".join("+" if reference_entry(0, 64, i // 64, i % 64) > 0 else "-" for i in range(24))
    assert signs == PINNED_SIGNS


PINNED_SIGNS = "++++-+-++-++--+++-+++---"


def test_the_hash_is_standard_splitmix64():
    """SplitMix64 seeded with 1234567 starts 6457827717110365317, 3203168211198807973 (Vigna's
    reference splitmix64.c); word(i, w) is output number i*W + w of SplitMix64 seeded with mix64(seed)."""
    from quadcat.features.projection import _GOLDEN, _MASK, _mix64
    assert [_mix64((1234567 + k * _GOLDEN) & _MASK) for k in (1, 2)] == [6457827717110365317, 3203168211198807973]


def test_any_block_size_gives_the_same_matrix_and_projection():
    small = RademacherProjector(seed=7, n_params=1000, dim=96, block_entries=96 * 3)
    large = RademacherProjector(seed=7, n_params=1000, dim=96)
    assert np.array_equal(small.block(0, 1000), large.block(0, 1000))
    assert np.array_equal(small.block(333, 334), large.block(0, 1000)[333:334])
    grads = np.random.default_rng(1).standard_normal((5, 1000)).astype(np.float32)
    expected = grads.astype(np.float64) @ large.block(0, 1000).astype(np.float64) / math.sqrt(96)
    np.testing.assert_allclose(small.project(grads), expected, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(large.project(grads[0]), expected[0], rtol=1e-4, atol=1e-4)


def test_projection_keeps_inner_products_in_expectation():
    rng = np.random.default_rng(3)
    grads = rng.standard_normal((20, 4000)).astype(np.float32)
    projected = RademacherProjector(seed=1, n_params=4000, dim=2048).project(grads)
    exact, approx = grads @ grads.T, projected @ projected.T
    norms = np.sqrt(np.outer(np.diag(exact), np.diag(exact)))
    assert np.abs((approx - exact) / norms).max() < 0.15  # JL: error ~ 1/sqrt(dim) per pair


def test_seeds_differ_and_shapes_are_checked():
    a, b = RademacherProjector(1, 300, 64), RademacherProjector(2, 300, 64)
    assert (a.block(0, 300) != b.block(0, 300)).mean() > 0.4
    assert a.identity == "quadcat-rademacher:1:64"
    with pytest.raises(ValueError, match=r"expected gradients of shape \(n, 300\)"):
        a.project(np.zeros((2, 299)))
    with pytest.raises(ValueError, match="seed must be in"):
        RademacherProjector(-1, 10, 10)


def test_attach_records_the_projection(small_catalog):
    projector = RademacherProjector(seed=20261123, n_params=512, dim=32)
    grads = projector.project(np.random.default_rng(4).standard_normal((300, 512)))
    small_catalog.attach(grads, corpus="pool", column="grad", checkpoint=1, lr=2e-5, projection=projector)
    assert column(small_catalog, "pool", "grad", 1).projection == "quadcat-rademacher:20261123:32"


@needs_torch
def test_torch_generates_the_same_matrix_bit_for_bit_and_projects_alike():
    projector = RademacherProjector(seed=2**63 - 1, n_params=900, dim=200, block_entries=200 * 128)
    assert np.array_equal(projector.block_torch(0, 900).numpy(), projector.block(0, 900))
    assert np.array_equal(projector.block_torch(450, 451).numpy(), projector.block(450, 451))
    grads = np.random.default_rng(5).standard_normal((6, 900)).astype(np.float32)
    from_torch = projector.project(torch.from_numpy(grads))
    assert isinstance(from_torch, torch.Tensor) and from_torch.dtype == torch.float32
    np.testing.assert_allclose(from_torch.numpy(), projector.project(grads), rtol=1e-5, atol=1e-5)
    if torch.cuda.is_available():
        on_gpu = projector.project(torch.from_numpy(grads).cuda().half())
        assert on_gpu.device.type == "cuda"
        np.testing.assert_allclose(on_gpu.cpu().numpy(), projector.project(grads.astype(np.float16)), rtol=1e-3, atol=1e-3)


@needs_torch
def test_the_sparse_projection_follows_its_documented_definition():
    """quadcat-sjltC: bucket k*b + (word >> 32) % b and sign by word & 1, word = mix64(mix64(seed) +
    (i*C + k + 1) * GOLDEN), checked in plain Python integers, and pinned."""
    from quadcat.features.projection import SparseSignProjector, _GOLDEN, _MASK, _mix64
    projector = SparseSignProjector(seed=2**61 + 5, n_params=300, dim=96, nonzeros=3)
    buckets, signs = projector.buckets_and_signs(0, 300)
    state = _mix64(projector.seed)
    for i in (0, 1, 150, 299):
        for k in range(3):
            word = _mix64((state + (i * 3 + k + 1) * _GOLDEN) & _MASK)
            assert int(buckets[i, k]) == k * 32 + (word >> 32) % 32
            assert float(signs[i, k]) == (1.0 if word & 1 else -1.0)
    assert projector.identity == "quadcat-sjlt3:2305843009213693957:96"
    pinned = SparseSignProjector(seed=3, n_params=2, dim=64).buckets_and_signs(0, 2)
    assert pinned[0].tolist() == [[10, 24, 42, 56], [0, 28, 39, 48]] and pinned[1][0].tolist() == [-1.0, 1.0, -1.0, -1.0]
    g = torch.randn(5, 300)
    dense = torch.zeros(300, 96)
    for k in range(3):
        dense[torch.arange(300), buckets[:, k]] += signs[:, k]
    assert torch.allclose(projector.project(g), g @ dense / 3 ** 0.5, atol=1e-5)


@needs_torch
def test_a_recorded_identity_rebuilds_its_projector():
    from quadcat.features.projection import SparseSignProjector, projector_for
    g = torch.randn(3, 500)
    for original in (RademacherProjector(11, 500, 64), SparseSignProjector(11, 500, 64, nonzeros=8)):
        rebuilt = projector_for(original.identity, 500)
        assert type(rebuilt) is type(original) and rebuilt.identity == original.identity
        assert torch.equal(rebuilt.project(g), original.project(g))
    with pytest.raises(ValueError, match="unknown projection kind 'rademacher'"):
        projector_for("rademacher:0:64", 500)
    with pytest.raises(ValueError, match="is not KIND:SEED:DIM"):
        projector_for("quadcat-sjlt4:x:64", 500)
