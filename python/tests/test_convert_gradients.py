"""tools/convert_gradients.py streams LESS chunks and TRAK stores through GradientWriter."""
import subprocess
import sys

import numpy as np
import pytest
from numpy.lib.format import open_memmap

from conftest import REPOSITORY

CONVERTER = REPOSITORY / "tools" / "convert_gradients.py"


def convert(*args):
    return subprocess.run([sys.executable, str(CONVERTER), *map(str, args)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def trak_store(directory, grads, featurized):
    (directory / "0").mkdir(parents=True)
    store = open_memmap(directory / "0" / "grads.mmap", mode="w+", dtype=grads.dtype, shape=grads.shape)
    store[:] = grads
    flags = open_memmap(directory / "0" / "_is_featurized.mmap", mode="w+", dtype=np.int32, shape=(len(grads),))
    flags[:] = featurized
    store.flush()
    flags.flush()


def test_a_complete_trak_store_converts_in_blocks(tmp_path, monkeypatch):
    grads = np.random.default_rng(0).standard_normal((5000, 64)).astype(np.float32)
    trak_store(tmp_path / "trak", grads, np.ones(5000, np.int32))
    result = convert("trak", tmp_path / "trak", tmp_path / "g.npy", "--dtype", "float32")
    assert result.returncode == 0, result.stderr
    assert "wrote" in result.stdout and np.load(tmp_path / "g.npy").tobytes() == grads.tobytes()


def test_a_partly_featurized_trak_store_writes_the_rows_it_has_and_their_ids(tmp_path):
    grads = np.arange(30 * 8, dtype=np.float16).reshape(30, 8) / 8
    featurized = np.ones(30, np.int32)
    featurized[[3, 17]] = 0
    trak_store(tmp_path / "trak", grads, featurized)
    (tmp_path / "ids.txt").write_text("".join(f"doc-{i}\n" for i in range(30)))
    refused = convert("trak", tmp_path / "trak", tmp_path / "g.npy")
    assert refused.returncode == 1 and "only 28 of 30 rows are featurized" in refused.stderr
    result = convert("trak", tmp_path / "trak", tmp_path / "g.npy", "--ids", tmp_path / "ids.txt", "--ids-out", tmp_path / "g.ids")
    assert result.returncode == 0, result.stderr
    kept = [i for i in range(30) if i not in (3, 17)]
    assert np.load(tmp_path / "g.npy").tobytes() == grads[kept].tobytes()
    assert (tmp_path / "g.ids").read_text().split() == [f"doc-{i}" for i in kept]


def test_less_chunk_folders_stream_in_data_order(tmp_path):
    torch = pytest.importorskip("torch", reason="torch is not installed (make test does not install its multi-GB wheel)")
    folder = tmp_path / "dim8"
    folder.mkdir()
    rows = torch.randn(700, 8)
    for start, end in ((0, 160), (160, 320), (320, 480), (480, 640), (640, 700)):
        torch.save(rows[start:end].half(), folder / f"grads-{end}.pt")
    result = convert("less", folder, tmp_path / "g.npy")
    assert result.returncode == 0, result.stderr
    assert np.load(tmp_path / "g.npy").tobytes() == rows.half().numpy().tobytes()
    normalized = convert("less", folder, tmp_path / "n.npy", "--rows", "normalized", "--dtype", "float32")
    assert normalized.returncode == 0, normalized.stderr
    np.testing.assert_allclose(np.linalg.norm(np.load(tmp_path / "n.npy"), axis=1), 1, rtol=1e-5)

    torch.save(rows[:100].half(), folder / "grads-900.pt")  # 100 rows where 200 (700..899) belong
    broken = convert("less", folder, tmp_path / "b.npy")
    assert broken.returncode == 1 and "grads-900.pt holds 100 rows" in broken.stderr and not (tmp_path / "b.npy").exists()
