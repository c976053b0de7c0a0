"""quadcat.features end to end: real torch, transformers and peft models (tiny, built from a config),
a real HF Trainer warmup, the real quadcat binary and catalog."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="torch is not installed (pip install './python[features]')")
pytest.importorskip("transformers")
pytest.importorskip("peft")

import quadcat  # noqa: E402
from quadcat.features.checkpoints import load_adam_state  # noqa: E402
from quadcat.features.per_example import PerExampleGradients, causal_lm_losses, trainable_parameters  # noqa: E402
from quadcat.features.pipeline import collect  # noqa: E402
from quadcat.features.projection import RademacherProjector, SparseSignProjector  # noqa: E402
from quadcat.features.warmup import warmup  # noqa: E402
from lm_fixtures import texts, tiny_model, write_corpus  # noqa: E402

os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
# One intra-op thread: these models are tiny, and two spinning OpenMP threads on a machine running anything
# else are up to 30x slower than one (measured); the subprocesses inherit it.
os.environ.setdefault("OMP_NUM_THREADS", "1")
torch.set_num_threads(1)
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
PYTHON_DIR = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """A pool of 60 documents in a catalog, a tiny GPT-2, and a 2-epoch LoRA warmup (2 checkpoints)."""
    root = tmp_path_factory.mktemp("features")
    docs = texts(60, seed=1)
    docs[7] = ""                                     # an empty text: no gradient, marked unusable
    docs[11] = " ".join(["alpha beta"] * 80)         # longer than --max-length: truncated, counted
    model = tiny_model(root / "model", docs[:40] + texts(40, seed=2))
    write_corpus(root / "pool.jsonl", docs)
    validation = root / "val.jsonl"
    with open(validation, "w") as file:
        for i, text in enumerate(texts(6, seed=3)):
            file.write(json.dumps({"id": f"v{i}", "text": text, "task": "ab"[i % 2]}) + "\n")
    catalog = quadcat.Catalog(root / "base.quadcat").create()
    catalog.ingest(root / "pool.jsonl", corpus="pool")
    report = warmup(catalog.path, corpus="pool", model=os.fspath(model), out=root / "warm", fraction=0.5, epochs=2,
                    lora_r=4, lora_alpha=8, target_modules=["c_attn", "c_proj", "c_fc"], learning_rate=5e-3,
                    batch_size=4, gradient_accumulation=2, max_length=48, progress=False)
    return {"root": root, "model": model, "validation": validation, "warmup": report,
            "checkpoints": [Path(c) for c in report.checkpoints]}


def fresh_catalog(world, name):
    path = world["root"] / f"{name}.quadcat"
    catalog = quadcat.Catalog(path).create()
    catalog.ingest(world["root"] / "pool.jsonl", corpus="pool")
    return catalog


def run_options(world, **more):
    options = dict(corpus="pool", model=os.fspath(world["model"]), checkpoints=world["checkpoints"], target="val",
                   validation=world["validation"], subtasks="task", dim=256, max_length=32, batch_size=8,
                   embed="lm", progress=False)
    options.update(more)
    return options


def lora_model(world, checkpoint):
    from quadcat.features.checkpoints import load_model_at
    return load_model_at(os.fspath(world["model"]), checkpoint, torch.float32)


def batch_of(world, rows, texts_):
    from transformers import AutoTokenizer
    from quadcat.features.text import Fields, TokenCounts, Tokenizing, collate
    tokenizer = AutoTokenizer.from_pretrained(world["model"])
    tokenizing = Tokenizing(tokenizer, Fields(), 32)
    examples = [tokenizing.example(r, {"text": t}, TokenCounts()) for r, t in zip(rows, texts_)]
    return collate(examples, tokenizer.pad_token_id)


# The warmup.

def test_warmup_leaves_one_checkpoint_per_epoch_and_records_its_sample(world):
    report = world["warmup"]
    assert [Path(c).name for c in report.checkpoints] == ["checkpoint-4", "checkpoint-8"]
    for checkpoint in world["checkpoints"]:
        for name in ("adapter_model.safetensors", "adapter_config.json", "optimizer.pt", "trainer_state.json"):
            assert (checkpoint / name).is_file(), name
    sample = quadcat.Catalog(world["root"] / "base.quadcat").subset(report.subset)
    assert sample.selector == "random" and len(sample) == 30
    assert report.rows == 30 - int(7 in set(sample.rows.tolist()))  # the empty text has no token to learn from


# Per-example gradients.

def test_batched_gradients_equal_a_batch_1_autograd_loop_whatever_the_padding_and_company(world):
    model = lora_model(world, world["checkpoints"][0])
    docs = texts(5, seed=9)
    batch = batch_of(world, range(5), docs)
    reference, _ = PerExampleGradients(model, causal_lm_losses, "loop")(batch)
    batched, _ = PerExampleGradients(model, causal_lm_losses, "hooks")(batch)
    for name, g in reference.items():
        scale = float(g.abs().max())
        assert scale > 0
        assert torch.allclose(batched[name], g, rtol=0, atol=2e-5 * scale), name
    # the same document in another batch, padded to another width, at another position
    other = batch_of(world, range(3), [docs[2], "alpha " * 30, docs[0]])
    again, _ = PerExampleGradients(model, causal_lm_losses, "hooks")(other)
    for name, g in batched.items():
        scale = float(g[2].abs().max())
        assert torch.allclose(again[name][0], g[2], rtol=0, atol=2e-5 * scale), name
        assert torch.allclose(again[name][2], g[0], rtol=0, atol=2e-5 * float(g[0].abs().max())), name


def test_adam_direction_is_lesss_formula_on_a_real_adamw_state(world):
    checkpoint = world["checkpoints"][1]
    model = lora_model(world, checkpoint)
    parameters = trainable_parameters(model)
    state = load_adam_state(checkpoint, parameters, model)
    saved = torch.load(checkpoint / "optimizer.pt", weights_only=True)
    assert state.matched_by == "order"
    # By hand: the Trainer numbers the LoRA parameters in named_parameters() order (all decay).
    names = [n for n, p in model.named_parameters() if p.requires_grad]
    group = saved["param_groups"][0]
    b1, b2 = group["betas"]
    eps = group["eps"]
    batch = batch_of(world, [0], [texts(1, seed=4)[0]])
    model.zero_grad()
    causal_lm_losses(model, batch).sum().backward()
    from quadcat.features.preconditioners import precondition
    for index, (name, p) in enumerate((n, p) for n, p in model.named_parameters() if p.requires_grad):
        g = p.grad.reshape(1, -1)
        m = saved["state"][index]["exp_avg"].reshape(1, -1)
        v = saved["state"][index]["exp_avg_sq"].reshape(1, -1)
        by_hand = (b1 * m + (1 - b1) * g) / torch.sqrt(b2 * v + (1 - b2) * g * g + eps)
        assert torch.allclose(precondition("adam", g, name, state), by_hand, rtol=1e-6, atol=0), name
    assert names == [p.name for p in parameters]


def test_optimizer_pt_and_name_keyed_optimizer_bin_give_the_same_state(world, tmp_path):
    checkpoint = world["checkpoints"][0]
    model = lora_model(world, checkpoint)
    parameters = trainable_parameters(model)
    by_order = load_adam_state(checkpoint, parameters, model)
    saved = torch.load(checkpoint / "optimizer.pt", weights_only=True)
    names = [p.name for p in parameters]
    named = {"state": {f"_fsdp_wrapped_module.{names[k]}": v for k, v in saved["state"].items()},
             "param_groups": [{**g, "params": [names[k] for k in g["params"]]} for g in saved["param_groups"]]}
    other = tmp_path / "checkpoint"
    other.mkdir()
    torch.save(named, other / "optimizer.bin")
    by_name = load_adam_state(other, parameters, model)
    assert by_name.matched_by == "names"
    for name in names:
        assert torch.equal(by_name.exp_avg[name], by_order.exp_avg[name])
        assert torch.equal(by_name.exp_avg_sq[name], by_order.exp_avg_sq[name])


def test_a_mismatched_optimizer_state_is_refused_naming_the_parameter(world, tmp_path):
    checkpoint = world["checkpoints"][0]
    model = lora_model(world, checkpoint)
    parameters = trainable_parameters(model)
    saved = torch.load(checkpoint / "optimizer.pt", weights_only=True)
    saved["state"][3]["exp_avg"] = torch.zeros(5, 5)
    saved["state"][3]["exp_avg_sq"] = torch.zeros(5, 5)
    (tmp_path / "c").mkdir()
    torch.save(saved, tmp_path / "c" / "optimizer.pt")
    with pytest.raises(ValueError, match=rf"optimizer index 3 has shape \(5, 5\), but parameter {parameters[3].name.replace('.', '[.]')}"):
        load_adam_state(tmp_path / "c", parameters, model)
    (tmp_path / "none").mkdir()
    with pytest.raises(FileNotFoundError, match="no optimizer state"):
        load_adam_state(tmp_path / "none", parameters, model)


# Projections.

@pytest.mark.parametrize("projector", ["sjlt", "rademacher"])
def test_projected_inner_products_stay_within_the_jl_bound_of_exact_ones(world, projector):
    model = lora_model(world, world["checkpoints"][1])
    engine = PerExampleGradients(model, causal_lm_losses)
    grads, _ = engine(batch_of(world, range(12), texts(12, seed=5)))
    exact = torch.cat([grads[p.name] for p in engine.parameters], dim=1)
    dim = 2048
    p = (SparseSignProjector(0, engine.n_params, dim) if projector == "sjlt" else RademacherProjector(0, engine.n_params, dim))
    out = torch.zeros((12, dim))
    for parameter in engine.parameters:
        p.accumulate(out, grads[parameter.name], parameter.offset)
    p.finish(out)
    norms = exact.norm(dim=1)
    errors = ((out @ out.T) - (exact @ exact.T)).abs() / torch.outer(norms, norms)
    # JL: |<Pa,Pb> - <a,b>| <= eps |a||b| with eps ~ sqrt(8 ln(n) / dim) for all pairs at once
    bound = float(np.sqrt(8 * np.log(12 * 12) / dim))
    assert float(errors.max()) < bound, (float(errors.max()), bound)
    assert float(errors.mean()) < bound / 3


# The pipeline into the catalog.

def test_features_write_every_column_and_less_over_them_equals_numpy(world):
    catalog = fresh_catalog(world, "less")
    report = collect(catalog.path, **run_options(world), keep_work=True)
    info = catalog.info().corpus("pool")
    columns = {(c.name, c.checkpoint): c for c in info.columns}
    assert set(columns) == {("grad", 1), ("grad", 2), ("emb", 0)}
    assert columns[("grad", 1)].usable_rows == 59 and report.empty_rows == [7]
    assert report.truncated_rows >= 1
    lrs = [c["lr"] for c in report.checkpoints]
    assert columns[("grad", 1)].learning_rate == pytest.approx(lrs[0]) and lrs[0] > lrs[1] > 0
    assert columns[("grad", 1)].projection == "quadcat-sjlt4:0:256"
    target = [t for t in catalog.targets() if t.name == "val"][0]
    assert target.rows == 6 and target.subtasks == 2

    # LESS in NumPy from the very gradients the run computed (kept in its work directory)
    work = Path(report.work_directory)
    pool = [np.load(work / f"pool-grad-{c}.npy").astype(np.float16).astype(np.float64) for c in (1, 2)]
    val = [np.load(work / f"val-grad-{c}.npy").astype(np.float16).astype(np.float64) for c in (1, 2)]
    tasks = np.array(["ab"[i % 2] for i in range(6)])
    score = np.zeros(60)
    per_task = {}
    for task in "ab":
        s = np.zeros(60)
        for c, lr in enumerate(lrs):
            p = pool[c] / np.linalg.norm(pool[c], axis=1, keepdims=True)
            v = val[c][tasks == task]
            v = v / np.linalg.norm(v, axis=1, keepdims=True)
            s += lr * (p @ v.T).mean(axis=1)
        per_task[task] = s
    score = np.maximum(per_task["a"], per_task["b"])
    score[7] = -np.inf
    expected = np.argsort(-score, kind="stable")[:10]
    chosen = catalog.select(corpus="pool", target="val", selector="less", budget=10, name="less")
    assert list(chosen.rows) == list(expected)


def test_a_killed_run_resumes_to_the_same_columns_bit_for_bit(world):
    whole = fresh_catalog(world, "whole")
    collect(whole.path, **run_options(world, batch_size=4))
    killed = fresh_catalog(world, "killed")
    args = [sys.executable, "-m", "quadcat", "features", os.fspath(killed.path), "--corpus", "pool",
            "--model", os.fspath(world["model"]), "--target", "val", "--validation", os.fspath(world["validation"]),
            "--subtasks", "task", "--dim", "256", "--max-length", "32", "--batch-size", "4", "--embed", "lm", "--no-progress",
            "--sync-seconds", "0"]
    for checkpoint in world["checkpoints"]:
        args += ["--checkpoint", os.fspath(checkpoint)]
    env = {**os.environ, "PYTHONPATH": os.fspath(PYTHON_DIR)}
    process = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    work_root = Path(os.fspath(killed.path) + "-features")
    deadline = time.time() + 120
    while time.time() < deadline:  # kill it in the middle of the second checkpoint's pool rows
        done = list(work_root.glob("*/pool-grad-2.done"))
        if done and np.load(done[0]).sum() >= 8:
            break
        assert process.poll() is None, "the run finished before it could be killed: " + process.stderr.read().decode()[-2000:]
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert 8 <= int(np.load(done[0]).sum()) < 60
    assert not [c for c in killed.info().corpus("pool").columns], "nothing is attached before every row is computed"
    finished = subprocess.run(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert finished.returncode == 0, finished.stderr.decode()
    a = {(c.name, c.checkpoint): c.content_hash for c in whole.info().corpus("pool").columns}
    b = {(c.name, c.checkpoint): c.content_hash for c in killed.info().corpus("pool").columns}
    assert a == b and len(a) == 3
    ta = [c.content_hash for t in whole.targets() for c in t.columns]
    tb = [c.content_hash for t in killed.targets() for c in t.columns]
    assert ta == tb and len(ta) == 3
    assert not work_root.exists() or not any(work_root.iterdir())


def test_two_ranks_under_torchrun_equal_one_process(world):
    single = fresh_catalog(world, "single")
    collect(single.path, **run_options(world, batch_size=4, embed=None, target=None, validation=None, subtasks=None))
    double = fresh_catalog(world, "double")
    args = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2", "--master-port", "29533",
            "-m", "quadcat", "features", os.fspath(double.path), "--corpus", "pool", "--model", os.fspath(world["model"]),
            "--dim", "256", "--max-length", "32", "--batch-size", "4", "--no-progress"]
    for checkpoint in world["checkpoints"]:
        args += ["--checkpoint", os.fspath(checkpoint)]
    env = {**os.environ, "PYTHONPATH": os.fspath(PYTHON_DIR), "OMP_NUM_THREADS": "1"}
    result = subprocess.run(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=300)
    assert result.returncode == 0, result.stderr.decode()[-3000:]
    a = {(c.name, c.checkpoint): c.content_hash for c in single.info().corpus("pool").columns}
    b = {(c.name, c.checkpoint): c.content_hash for c in double.info().corpus("pool").columns}
    assert set(a) == {("grad", 1), ("grad", 2)}
    assert a == b, "two ranks wrote other columns than one process"


# Bad input: clear errors, the catalog unchanged.

def columns_of(catalog):
    return [(c.name, c.checkpoint) for c in catalog.info().corpus("pool").columns]


def test_bad_inputs_are_clear_errors_and_leave_the_catalog_unchanged(world, tmp_path):
    catalog = fresh_catalog(world, "bad")
    lines = world["validation"].read_text().splitlines()
    no_task = tmp_path / "val.jsonl"
    no_task.write_text("\n".join(lines[:2] + [json.dumps({"id": "x", "text": "alpha"})]) + "\n")
    with pytest.raises(ValueError, match=r"val.jsonl line 3 has no subtask field 'task'"):
        collect(catalog.path, **run_options(world, validation=no_task))
    bare = tmp_path / "bare-checkpoint"
    bare.mkdir()
    for name in ("adapter_model.safetensors", "adapter_config.json", "trainer_state.json"):
        (bare / name).write_bytes((world["checkpoints"][0] / name).read_bytes())
    with pytest.raises(FileNotFoundError, match="bare-checkpoint has no optimizer state"):
        collect(catalog.path, **run_options(world, checkpoints=[bare]))
    small = tmp_path / "small-model"
    from transformers import AutoModelForCausalLM
    model = AutoModelForCausalLM.from_pretrained(world["model"])
    model.resize_token_embeddings(100)
    model.save_pretrained(small)
    from transformers import AutoTokenizer
    AutoTokenizer.from_pretrained(world["model"]).save_pretrained(small)
    with pytest.raises(ValueError, match=r"the tokenizer has 300 tokens but the model's embedding has 100 rows"):
        collect(catalog.path, **run_options(world, model=os.fspath(small), checkpoints=[], target=None,
                                            validation=None, subtasks=None, embed=None))
    assert columns_of(catalog) == [] and catalog.targets() == []
    collect(catalog.path, **run_options(world, checkpoints=world["checkpoints"][:1], embed=None))
    with pytest.raises(ValueError, match="corpus 'pool' already has column grad@1"):
        collect(catalog.path, **run_options(world, checkpoints=world["checkpoints"][:1], embed=None))
    # a second gradient column for the same target (Quad's K-FAC influence beside LESS's Adam directions)
    collect(catalog.path, **run_options(world, checkpoints=world["checkpoints"][:1], embed=None, gradient_column="kfac",
                                        preconditioner="kfac", kfac_rows=16))
    target = [t for t in catalog.targets() if t.name == "val"][0]
    assert {(c.name, c.checkpoint) for c in target.columns} == {("grad", 1), ("kfac", 1)} and target.subtasks == 2
    with pytest.raises(ValueError, match="no corpus 'nope'"):
        collect(catalog.path, **run_options(world, corpus="nope"))


def test_a_warmup_killed_after_one_epoch_resumes_to_the_same_final_adapter(world, tmp_path):
    from safetensors.torch import load_file
    out = tmp_path / "warm"
    args = [sys.executable, "-m", "quadcat", "warmup", os.fspath(world["root"] / "base.quadcat"), "--corpus", "pool",
            "--model", os.fspath(world["model"]), "--out", os.fspath(out), "--fraction", "0.5", "--epochs", "2",
            "--lora-r", "4", "--lora-alpha", "8", "--target-modules", "c_attn,c_proj,c_fc", "--learning-rate", "5e-3",
            "--batch-size", "4", "--gradient-accumulation", "2", "--max-length", "48", "--json"]
    env = {**os.environ, "PYTHONPATH": os.fspath(PYTHON_DIR)}
    process = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.time() + 120
    while time.time() < deadline and process.poll() is None and not (out / "checkpoint-4" / "trainer_state.json").is_file():
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert (out / "checkpoint-4" / "trainer_state.json").is_file()
    if (out / "checkpoint-8").exists():  # the second epoch won the race: leave the state a kill after epoch 1 leaves
        import shutil
        shutil.rmtree(out / "checkpoint-8")
    resumed = subprocess.run(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert resumed.returncode == 0, resumed.stderr.decode()[-3000:]
    assert json.loads(resumed.stdout)["resumed_from"].endswith("checkpoint-4")
    first = load_file(world["checkpoints"][1] / "adapter_model.safetensors")
    again = load_file(out / "checkpoint-8" / "adapter_model.safetensors")
    assert first.keys() == again.keys()
    for name in first:
        assert torch.equal(first[name], again[name]), name


def test_sentence_transformer_embeddings_are_unit_rows_of_the_records_text(world):
    pytest.importorskip("sentence_transformers")
    from sentence_transformers import SentenceTransformer
    from lm_fixtures import tiny_sentence_model
    model = tiny_sentence_model(world["root"] / "sentence")
    catalog = fresh_catalog(world, "embed")
    report = collect(catalog.path, **run_options(world, checkpoints=[], embed=os.fspath(model), embedding_column="st"),
                     keep_work=True)
    columns = {c.name: c for c in catalog.info().corpus("pool").columns}
    assert set(columns) == {"grad", "st"} and columns["st"].dim == 16 and columns["st"].kind == "embedding"
    assert {c.name for t in catalog.targets() for c in t.columns} == {"grad", "st"}
    written = np.load(Path(report.work_directory) / "pool-embed-0.npy")
    docs = [json.loads(line)["text"] for line in open(world["root"] / "pool.jsonl")]
    expected = SentenceTransformer(os.fspath(model), device="cpu").encode(docs[:5], normalize_embeddings=True)
    assert np.allclose(written[:5], expected, atol=1e-5)
    assert np.allclose(np.linalg.norm(written, axis=1), 1, atol=1e-5)


def test_features_on_a_shard_set_by_ray_tasks_equal_the_single_catalog(world, tmp_path):
    ray = pytest.importorskip("ray")
    import quadcat.ray as quadcat_ray
    single = fresh_catalog(world, "single-for-shards")
    one = collect(single.path, **run_options(world, batch_size=4), keep_work=True)
    lines = (world["root"] / "pool.jsonl").read_bytes().splitlines(keepends=True)
    shards = []
    for a, b in [(0, 16), (16, 40), (40, 60)]:  # shard sizes that are multiples of the batch size
        (tmp_path / f"s{a}.jsonl").write_bytes(b"".join(lines[a:b]))
        shard = quadcat.Catalog(tmp_path / f"s{a}.quadcat").create()
        shard.ingest(tmp_path / f"s{a}.jsonl", corpus="pool")
        shards.append(shard.path)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, object_store_memory=150 * 1024 * 1024)
    try:
        result = quadcat_ray.features(tmp_path / "pool.set", shards, **run_options(world, batch_size=4), keep_work=True)
        again = quadcat_ray.features(tmp_path / "pool.set", shards, **run_options(world, batch_size=4), keep_work=True)
        assert [r["skipped"] for r in result["shards"]] == [False] * 3
        assert [r["skipped"] for r in again["shards"]] == [True] * 3, "a finished shard is never redone"
        assert result["set"]["rows"] == 60 and not result["verify"].get("damage")
        for name in ("pool-grad-1", "pool-grad-2", "pool-embed-lm"):
            whole = np.load(Path(one.work_directory) / f"{name}.npy")
            parts = np.concatenate([np.load(Path(r["work_directory"]) / f"{name}.npy") for r in result["shards"]])
            assert np.array_equal(whole, parts, equal_nan=True), name
        expected = single.select(corpus="pool", target="val", selector="less", budget=12, name="less")
        sharded = quadcat_ray.select(tmp_path / "pool.set", selector="less", target="val", budget=12, name="less")
        assert list(sharded.rows) == list(expected.rows)
    finally:
        ray.shutdown()


# K-FAC (Quad's influence).

def test_kfac_applies_the_exact_damped_inverse_of_its_kronecker_gauss_newton_blocks(world):
    from quadcat.features.kfac import KFAC
    model = lora_model(world, world["checkpoints"][1])
    for name, p in model.named_parameters():
        if name.endswith("transformer.ln_f.weight"):
            p.requires_grad_(True)
    with pytest.raises(ValueError, match="covers linear layers only; .*ln_f.weight is not in one"):
        KFAC.estimate(model, [batch_of(world, range(4), texts(4, seed=6))])
    for name, p in model.named_parameters():  # LoRA, and one layer's bias: its block gets A's row of ones
        p.requires_grad_("lora_" in name or name.endswith("h.0.mlp.c_fc.base_layer.bias"))
    sample = [batch_of(world, range(6), texts(6, seed=s)) for s in (6, 7)]
    kfac = KFAC.estimate(model, sample, damping=0.1, seed=0)
    assert kfac.tokens > 0 and len(kfac.blocks) == len(trainable_parameters(model))
    bias_block = [b for b in kfac.blocks if b.bias is not None]
    assert len(bias_block) == 1 and bias_block[0].weight is None and bias_block[0].q_a.shape == (1, 1)
    engine = PerExampleGradients(model, causal_lm_losses)
    grads, _ = engine(batch_of(world, range(3), texts(3, seed=8)))
    applied = kfac.apply(grads)
    for block in [b for b in kfac.blocks if b.weight is not None][:4] + bias_block:
        a = block.q_a.double() @ torch.diag(block.lam_a.double()) @ block.q_a.double().T
        s = block.q_s.double() @ torch.diag(block.lam_s.double()) @ block.q_s.double().T
        dense = torch.kron(a, s) + block.damping * torch.eye(a.shape[0] * s.shape[0], dtype=torch.float64)
        for row in range(3):
            name = block.weight or block.bias
            g = grads[name][row].double().reshape(s.shape[0], a.shape[0])   # LoRA layers are nn.Linear; a bias is (out, 1)
            exact = torch.linalg.solve(dense, g.T.reshape(-1)).reshape(a.shape[0], s.shape[0]).T  # column-stacked vec
            got = applied[name][row].double().reshape(s.shape[0], a.shape[0])
            assert torch.allclose(got, exact, rtol=1e-4, atol=1e-6 * float(exact.abs().max())), name
    # the factors are the token averages of x xᵀ and dy dyᵀ: A's trace is the mean squared input norm
    assert all(float(b.lam_a.min()) >= 0 and float(b.lam_s.sum()) > 0 for b in kfac.blocks)


def test_kfac_features_feed_quad(world):
    catalog = fresh_catalog(world, "kfac")
    report = collect(catalog.path, **run_options(world, preconditioner="kfac", kfac_rows=24))
    assert report.preconditioner == "kfac"
    plain = fresh_catalog(world, "kfac-plain")
    collect(plain.path, **run_options(world, preconditioner="none"))
    a = {(c.name, c.checkpoint): c.content_hash for c in catalog.info().corpus("pool").columns}
    b = {(c.name, c.checkpoint): c.content_hash for c in plain.info().corpus("pool").columns}
    assert a[("grad", 1)] != b[("grad", 1)] and a[("emb", 0)] == b[("emb", 0)]
    chosen = catalog.select(corpus="pool", target="val", selector="quad", budget=12, name="quad", params={"clusters": 4})
    assert len(chosen.rows) == 12


def test_bf16_features_point_where_fp32_ones_do(world):
    options = run_options(world, checkpoints=world["checkpoints"][:1], target=None, validation=None, subtasks=None,
                          embed=None)
    full = collect(fresh_catalog(world, "fp32").path, **options, keep_work=True)
    half = collect(fresh_catalog(world, "bf16").path, **options, dtype="bf16", keep_work=True)
    a = np.load(Path(full.work_directory) / "pool-grad-1.npy")
    b = np.load(Path(half.work_directory) / "pool-grad-1.npy")
    usable = np.isfinite(a).all(axis=1)
    cosines = (a[usable] * b[usable]).sum(axis=1) / np.linalg.norm(a[usable], axis=1) / np.linalg.norm(b[usable], axis=1)
    assert not np.array_equal(a, b) and cosines.min() > 0.9, cosines.min()
