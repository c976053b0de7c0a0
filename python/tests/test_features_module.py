"""quadcat.features.collect with any torch module and loss function (the Python API's custom path):
hooks, torch.func and the batch-1 loop agree, and the columns land in the catalog."""
import json

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="torch is not installed (pip install './python[features]')")
pytest.importorskip("transformers")

import quadcat  # noqa: E402
from quadcat.features.per_example import PerExampleGradients  # noqa: E402
from quadcat.features.pipeline import collect  # noqa: E402

torch.set_num_threads(1)


class Regressor(torch.nn.Module):
    def __init__(self, norm: bool):
        super().__init__()
        torch.manual_seed(0)
        self.hidden = torch.nn.Linear(6, 16)
        self.norm = torch.nn.LayerNorm(16) if norm else torch.nn.Identity()
        self.out = torch.nn.Linear(16, 1)

    def forward(self, x):
        return self.out(torch.tanh(self.norm(self.hidden(x)))).squeeze(-1)


def squared_errors(model, batch):
    return (model(batch["x"]) - batch["y"]) ** 2


def to_batch(records):
    return {"x": torch.tensor([r["x"] for r in records], dtype=torch.float32),
            "y": torch.tensor([r["y"] for r in records], dtype=torch.float32)}


@pytest.fixture()
def pool(tmp_path):
    rng = np.random.default_rng(0)
    path = tmp_path / "pool.jsonl"
    with open(path, "w") as file:
        for i in range(40):
            file.write(json.dumps({"id": f"r{i}", "text": "", "x": rng.normal(size=6).round(4).tolist(),
                                   "y": float(rng.normal())}) + "\n")
    catalog = quadcat.Catalog(tmp_path / "cat.quadcat").create()
    catalog.ingest(path, corpus="pool")
    return catalog, path


@pytest.mark.parametrize("norm", [False, True])
def test_every_method_gives_the_batch_1_gradients(pool, norm):
    _, path = pool
    records = [json.loads(line) for line in open(path)][:7]
    model = Regressor(norm)
    batch = to_batch(records)
    reference, _ = PerExampleGradients(model, squared_errors, "loop")(batch)
    methods = ["func"] + ([] if norm else ["hooks"])
    for method in methods:
        grads, _ = PerExampleGradients(model, squared_errors, method)(batch)
        for name, g in reference.items():
            assert torch.allclose(grads[name], g, rtol=1e-5, atol=1e-6), (method, name)
    assert PerExampleGradients(model, squared_errors).method == ("func" if norm else "hooks")
    if norm:
        with pytest.raises(ValueError, match=r"norm.weight belongs to a LayerNorm, not a linear layer"):
            PerExampleGradients(model, squared_errors, "hooks")


def test_a_torch_module_writes_its_columns_with_the_adam_direction(pool, tmp_path):
    catalog, _ = pool
    model = Regressor(False)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2, betas=(0.8, 0.99), eps=1e-6)
    for _ in range(3):
        optimizer.zero_grad()
        squared_errors(model, to_batch([{"x": [0.1] * 6, "y": 1.0}])).sum().backward()
        optimizer.step()
    torch.save(optimizer.state_dict(), tmp_path / "optimizer.pt")
    report = collect(catalog.path, corpus="pool", model=model, loss_fn=squared_errors, batch_fn=to_batch,
                     optimizer_state=tmp_path / "optimizer.pt", lr=1e-2, dim=64, batch_size=16, progress=False,
                     keep_work=True)
    assert report.preconditioner == "adam" and report.method == "hooks"
    column = [c for c in catalog.info().corpus("pool").columns if c.name == "grad"][0]
    assert column.rows == 40 and column.learning_rate == pytest.approx(1e-2) and column.dim == 64
    # row 5 by hand: LESS's direction with this optimizer's own betas and eps, projected
    from pathlib import Path
    from quadcat.features.projection import SparseSignProjector
    record = json.loads(open(tmp_path / "pool.jsonl").readlines()[5])
    model.zero_grad()
    squared_errors(model, to_batch([record])).sum().backward()
    pieces = []
    for index, p in enumerate(model.parameters()):
        state = optimizer.state[p]
        g = p.grad.reshape(-1)
        m = 0.8 * state["exp_avg"].reshape(-1) + 0.2 * g
        v = 0.99 * state["exp_avg_sq"].reshape(-1) + 0.01 * g * g
        pieces.append(m / torch.sqrt(v + 1e-6))
    direction = torch.cat(pieces)[None, :]
    expected = SparseSignProjector(0, direction.shape[1], 64).project(direction)[0]
    written = np.load(Path(report.work_directory) / "pool-grad-1.npy")[5]
    assert np.allclose(written, expected.numpy(), rtol=1e-4, atol=1e-5)
