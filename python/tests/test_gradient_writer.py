"""GradientWriter writes exactly what `attach` reads, refuses what attach would refuse, and keeps
nothing half-written."""
import numpy as np
import pytest

import quadcat
from conftest import column, gaussian

try:
    import torch
except ImportError:
    torch = None
needs_torch = pytest.mark.skipif(torch is None, reason="torch is not installed (make test does not install its multi-GB wheel)")


def shuffled_batches(rows: int, batch: int, seed: int):
    order = np.random.default_rng(seed).permutation(rows)
    return [order[i:i + batch] for i in range(0, rows, batch)]


@pytest.mark.parametrize("dtype", ["float16", "float32"])
def test_round_trips_through_attach_bit_for_bit(small_catalog, tmp_path, dtype):
    grads = gaussian(300, 40, seed=5) * 3
    with quadcat.GradientWriter(tmp_path / "g.npy", rows=300, dim=40, dtype=dtype) as writer:
        writer.write(grads[:100])                      # in order
        writer.write(grads[100:130], rows=100)         # at an offset
        for rows in shuffled_batches(170, 32, seed=1):  # anywhere, any order
            writer.write(grads[130 + rows], rows=130 + rows)
    written = np.load(tmp_path / "g.npy")
    expected = grads.astype(dtype)
    assert written.dtype == np.dtype(dtype) and written.tobytes() == expected.tobytes()

    # The catalog identifies a column by the checksums of its stored bytes: the writer's file and
    # NumPy's own np.save of the same values attach as the same column.
    np.save(tmp_path / "reference.npy", expected)
    small_catalog.attach(tmp_path / "g.npy", corpus="pool", column="written", checkpoint=1, lr=1e-5)
    small_catalog.attach(tmp_path / "reference.npy", corpus="pool", column="reference", checkpoint=1, lr=1e-5)
    ours, reference = column(small_catalog, "pool", "written", 1), column(small_catalog, "pool", "reference", 1)
    assert ours.content_hash == reference.content_hash and ours.stored_dtype == {"float16": "f16", "float32": "f32"}[dtype]
    assert ours.usable_rows == 300


def test_refuses_nan_infinity_and_float16_overflow_naming_the_row(tmp_path):
    with quadcat.GradientWriter(tmp_path / "g.npy", rows=100, dim=8) as writer:
        batch = gaussian(10, 8, seed=1)
        batch[3, 2] = np.nan
        with pytest.raises(ValueError, match=r"row 43 \(batch row 3\) holds NaN"):
            writer.write(batch, rows=40)
        batch[3, 2] = -np.inf
        with pytest.raises(ValueError, match=r"row 93 \(batch row 3\) holds an infinity"):
            writer.write(batch, rows=np.arange(90, 100))
        batch[3, 2] = 1e5
        with pytest.raises(ValueError, match=r"row 3 .*beyond float16's range"):
            writer.write(batch)
        assert writer.rows_written == 0  # nothing of a refused batch is written
        writer.abort()
    assert list(tmp_path.iterdir()) == []


def test_refuses_wrong_shapes_rows_and_repeats(tmp_path):
    writer = quadcat.GradientWriter(tmp_path / "g.npy", rows=10, dim=4, dtype="float32")
    with pytest.raises(ValueError, match=r"expected a batch of shape \(n, 4\), got \(2, 5\)"):
        writer.write(np.zeros((2, 5), np.float32))
    with pytest.raises(ValueError, match=r"expected a batch of shape \(n, 4\), got \(4,\)"):
        writer.write(np.zeros(4, np.float32))
    with pytest.raises(ValueError, match="rows 8..10 are outside"):
        writer.write(np.zeros((3, 4)), rows=8)
    writer.write(np.ones((2, 4)), rows=[1, 7])
    with pytest.raises(ValueError, match="row 7 was already written"):
        writer.write(np.ones((1, 4)), rows=[7])
    with pytest.raises(ValueError, match="row 3 appears twice"):
        writer.write(np.ones((2, 4)), rows=[3, 3])
    with pytest.raises(TypeError, match="float array"):
        writer.write(np.array([["a"] * 4]))
    with pytest.raises(ValueError, match="dtype must be 'float16' or 'float32'"):
        quadcat.GradientWriter(tmp_path / "b.npy", rows=10, dim=4, dtype="bfloat16")
    writer.abort()


def test_an_incomplete_file_is_refused_and_nothing_is_left(tmp_path):
    writer = quadcat.GradientWriter(tmp_path / "g.npy", rows=10, dim=4)
    writer.write(np.ones((6, 4)))
    with pytest.raises(ValueError, match=r"4 of 10 rows were never written \(first: 6, 7, 8, 9\)"):
        writer.close()
    assert list(tmp_path.iterdir()) == []

    with pytest.raises(RuntimeError, match="the training loop broke"):
        with quadcat.GradientWriter(tmp_path / "h.npy", rows=10, dim=4) as failing:
            failing.write(np.ones((3, 4)))
            raise RuntimeError("the training loop broke")
    assert list(tmp_path.iterdir()) == []


def test_partial_files_keep_the_rows_written_and_attach_with_ids(small_catalog, tmp_path):
    ids = [f"doc-{i}" for i in range(300)]
    grads = gaussian(300, 16, seed=9, dtype=np.float16)
    rows = np.array([250, 3, 17, 100, 101, 102, 299])
    with quadcat.GradientWriter(tmp_path / "g.npy", rows=300, dim=16, partial=True, ids=ids) as writer:
        writer.write(grads[rows[:3]], rows=rows[:3])
        writer.write(grads[100:103], rows=100)
        writer.write(grads[299:300], rows=299)
        assert writer.missing_rows().size == 293
    kept = np.sort(rows)
    assert np.load(tmp_path / "g.npy").tobytes() == grads[kept].tobytes()
    assert (tmp_path / "g.ids").read_text().splitlines() == [ids[r] for r in kept]

    report = small_catalog.attach(tmp_path / "g.npy", corpus="pool", column="grad", checkpoint=1, lr=1e-5, ids=tmp_path / "g.ids")
    assert (report.rows, report.usable_rows) == (300, 7)
    with pytest.raises(ValueError, match="partial=True needs ids"):
        quadcat.GradientWriter(tmp_path / "x.npy", rows=300, dim=16, partial=True)


@needs_torch
def test_torch_tensors_write_like_numpy(tmp_path):
    values = gaussian(64, 32, seed=3)
    with quadcat.GradientWriter(tmp_path / "t.npy", rows=64, dim=32) as writer:
        writer.write(torch.from_numpy(values[:32]).to(torch.bfloat16).float(), rows=torch.arange(32))
        writer.write(torch.from_numpy(values[32:]).requires_grad_())
    with quadcat.GradientWriter(tmp_path / "n.npy", rows=64, dim=32) as writer:
        writer.write(torch.from_numpy(values[:32]).to(torch.bfloat16).float().numpy())
        writer.write(values[32:])
    assert (tmp_path / "t.npy").read_bytes() == (tmp_path / "n.npy").read_bytes()
    with quadcat.GradientWriter(tmp_path / "bad.npy", rows=4, dim=2) as writer:
        with pytest.raises(ValueError, match=r"row 1 \(batch row 1\) holds NaN"):
            writer.write(torch.tensor([[1.0, 2.0], [float("nan"), 0.0]]))
        writer.abort()
