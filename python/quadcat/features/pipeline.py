"""``quadcat.features.collect``: a model and a catalog's corpus in, gradient and embedding columns out.

One call (or ``python -m quadcat features``) does what LESS's users write by hand: for every checkpoint,
the Adam-preconditioned projected gradient of every pool row and the plain projected gradient of every
validation row, per-example in batches; optionally embeddings; everything written into the catalog with
the checkpoint's learning rate and the projection's identity. Resumable, data-parallel under torchrun.
"""
import hashlib
import json
import math
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, Iterator, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np
import torch

from ..catalog import Catalog
from .checkpoints import epoch_learning_rate, load_adam_state, load_model_at
from .per_example import PerExampleGradients, causal_lm_losses
from .preconditioners import needs_optimizer_state, precondition
from .projection import RademacherProjector, SparseSignProjector
from .store import ResumableMatrix, WorkDirectory
from .text import Fields, TokenCounts, Tokenizing, batches, collate, has_loss_token

PathLike = Union[str, "os.PathLike[str]"]
DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}


@dataclass
class FeatureReport:
    """What a run wrote and measured."""
    catalog: str
    corpus: str
    rows: int
    columns: List[str]
    target: Optional[str]
    validation_rows: int
    checkpoints: List[Dict[str, Any]]
    projection: str
    preconditioner: str
    method: str
    tokens: int
    truncated_rows: int
    empty_rows: List[int]
    seconds: float
    tokens_per_second: float
    #: Seconds in the batch loops alone (forward, backward, per-example gradients, preconditioning,
    #: projection, writing), without loading models, streaming records or attaching.
    compute_seconds: float
    resumed: bool
    work_directory: str


def collect(catalog: PathLike, *, corpus: str, model: Union[str, torch.nn.Module], checkpoints: Sequence[PathLike] = (),
            target: Optional[str] = None, validation: Optional[PathLike] = None, subtasks: Optional[str] = None,
            dim: int = 8192, projection: str = "sjlt", projection_seed: int = 0, nonzeros: int = 4,
            preconditioner: Optional[str] = None, embed: Optional[str] = None, max_length: int = 512,
            batch_size: int = 8, dtype: str = "fp32", gradient_column: str = "grad", embedding_column: str = "emb",
            text_field: Optional[str] = None, prompt_field: Optional[str] = None, completion_field: Optional[str] = None,
            lr: Optional[float] = None, method: str = "auto", device: Optional[str] = None,
            work_dir: Optional[PathLike] = None, progress: bool = True, keep_work: bool = False,
            projection_buffer: int = 512 << 20, sync_seconds: float = 5.0, loss_fn: Optional[Callable] = None,
            batch_fn: Optional[Callable] = None, optimizer_state: Optional[PathLike] = None, kfac_rows: int = 512,
            kfac_damping: float = 0.1) -> FeatureReport:
    """Computes per-example projected gradients (one column per checkpoint) and optionally embeddings of
    ``corpus`` and writes them into ``catalog``; with ``target`` and ``validation``, the validation rows'
    gradients as that target.

    ``model``: an HF causal LM (a local directory or a name already in the local cache). ``checkpoints``:
    HF Trainer checkpoint directories, in training order (checkpoint numbers 1, 2, ...): each one's LoRA
    adapter (or full weights), optimizer state and learning rate (the mean over the epoch that ends
    there; ``lr`` overrides). Without checkpoints the model itself is checkpoint 1 (``lr`` default 1).
    ``preconditioner``: ``adam`` (LESS; the default with checkpoints), ``adam-v``, ``none`` (the default
    without) or ``kfac`` (Quad's influence: K-FAC factors over ``kfac_rows`` sampled pool rows, relative
    damping ``kfac_damping``). Validation rows always get the plain gradient, as LESS's.
    ``projection``: ``sjlt`` (sparse JL with ``nonzeros`` per coordinate, the fast default) or
    ``rademacher`` (dense, LESS/TRAK-compatible). ``embed``: ``"lm"`` for the model's last-token hidden
    state at the last checkpoint (LESS's RDS), or a sentence-transformers model (normalised).
    ``subtasks``: the validation record field naming each row's subtask.
    Runs under ``torchrun`` split the rows between ranks. A killed run resumes where it stopped when the
    same call is made again; nothing is attached before every row is computed. ``projection_buffer``:
    bytes of unprojected gradients gathered before a dense projection (its matrix is generated once
    per group of rows when it does not fit its device cache). ``sync_seconds``: how often finished rows
    are made durable (values flushed, then their done marks); a rerun recomputes at most that much.

    Any torch module instead of an HF model: pass it as ``model`` with ``loss_fn(model, batch) -> (batch,)``
    per-example losses and ``batch_fn(records) -> {name: tensor}`` (the records a list of dicts, the
    tensors' first dimension the example); ``optimizer_state`` (an ``optimizer.pt``-style file of a
    torch Adam/AdamW over its trainable parameters) for ``preconditioner="adam"``; its trainable
    parameters are those with ``requires_grad``.
    """
    run = _Run(Path(catalog), corpus=corpus, model=model, checkpoints=[Path(c) for c in checkpoints], target=target,
               validation=Path(validation) if validation is not None else None, subtasks=subtasks, dim=dim,
               projection=projection, projection_seed=projection_seed, nonzeros=nonzeros,
               preconditioner=preconditioner, embed=embed, max_length=max_length, batch_size=batch_size,
               dtype=dtype, gradient_column=gradient_column, embedding_column=embedding_column,
               fields=Fields(text=text_field, prompt=prompt_field, completion=completion_field), lr=lr, method=method,
               device=device, work_dir=Path(work_dir) if work_dir is not None else None, progress=progress,
               keep_work=keep_work, projection_buffer=projection_buffer, sync_seconds=sync_seconds, loss_fn=loss_fn,
               batch_fn=batch_fn, optimizer_state=Path(optimizer_state) if optimizer_state is not None else None,
               kfac_rows=kfac_rows, kfac_damping=kfac_damping)
    return run.execute()


class _Run:
    def __init__(self, catalog: Path, **options: Any):
        self.catalog_path = catalog
        self.catalog = Catalog(catalog)
        for key, value in options.items():
            setattr(self, key, value)
        if self.dtype not in DTYPES:
            raise ValueError(f"--dtype must be one of {', '.join(DTYPES)}, not {self.dtype!r}")
        if self.projection not in ("sjlt", "rademacher"):
            raise ValueError(f"--projection must be sjlt or rademacher, not {self.projection!r}")
        if (self.target is None) != (self.validation is None):
            raise ValueError("--target and --validation go together: the target's name and its validation file")
        if self.validation is not None and not self.validation.is_file():
            raise FileNotFoundError(f"validation file {self.validation} does not exist")
        for checkpoint in self.checkpoints:
            if not checkpoint.is_dir():
                raise FileNotFoundError(f"checkpoint {checkpoint} is not a directory")
        self.custom = isinstance(self.model, torch.nn.Module)
        if self.custom:
            if self.loss_fn is None or self.batch_fn is None:
                raise ValueError("a torch module as the model needs loss_fn(model, batch) and batch_fn(records)")
            if self.checkpoints or self.embed == "lm":
                raise ValueError("checkpoints and embed='lm' are for HF causal LMs; a torch module is one checkpoint "
                                 "(give optimizer_state= for the Adam direction)")
        if self.preconditioner is None:
            self.preconditioner = "adam" if self.checkpoints or self.optimizer_state is not None else "none"
        needs_optimizer_state(self.preconditioner)  # checks the name
        self.rank = int(os.environ.get("RANK", "0"))
        self.world = int(os.environ.get("WORLD_SIZE", "1"))
        if self.device is None:
            local = int(os.environ.get("LOCAL_RANK", "0"))
            self.device = f"cuda:{local}" if torch.cuda.is_available() else "cpu"
        self.counts = TokenCounts()
        self.compute_seconds = 0.0

    # The plan.

    def execute(self) -> FeatureReport:
        started = time.perf_counter()
        corpus_info = self._corpus_info()
        self.rows = corpus_info["rows"]
        if self.fields.prompt is None and self.fields.text is None:
            self.fields.text = corpus_info.get("text_field") or "text"
        self.validation_records = self._validation_records()
        stages = self._stages()
        request = self._request(corpus_info)
        work = WorkDirectory(self.catalog_path, request, self.work_dir)
        # Whether the target was there before this run's first attach (its subtasks are given once): a
        # resumed run may have attached the target itself, so it reads what its start noted.
        if work.resumed:
            self.target_existed = bool(work.saved.get("target_existed"))
        else:
            self.target_existed = self.target is not None and any(t.name == self.target for t in self.catalog.targets())
            self._refuse_existing_columns(stages, corpus_info)
            work.request["target_existed"] = self.target_existed
        self._distributed_setup()
        if self.rank == 0:
            work.create()
        self._barrier()
        tokenizer = self._tokenizer()
        method_used = self.method
        for stage in stages:
            method_used = self._run_stage(stage, work, tokenizer) or method_used
        self._barrier()
        if self.rank == 0:
            self._attach(stages, work)
        self._barrier()
        self._distributed_teardown()
        seconds = time.perf_counter() - started
        report = FeatureReport(
            catalog=os.fspath(self.catalog_path), corpus=self.corpus, rows=self.rows,
            columns=sorted({s.column_label for s in stages if s.kind.startswith("pool")}
                           | ({self.embedding_column} if self.embed == "lm" else set())), target=self.target,
            validation_rows=len(self.validation_records), checkpoints=[s.describe() for s in stages if s.kind == "pool-grad"],
            projection=stages[0].projection_identity if stages and stages[0].projection_identity else "",
            preconditioner=self.preconditioner, method=method_used, tokens=self.counts.tokens,
            truncated_rows=len(set(self.counts.truncated)), empty_rows=sorted(set(self.counts.empty)),
            seconds=round(seconds, 3), tokens_per_second=round(self.counts.tokens / seconds, 1) if seconds > 0 else 0.0,
            compute_seconds=round(self.compute_seconds, 3),
            resumed=work.resumed, work_directory=os.fspath(work.path))
        if self.rank == 0 and not self.keep_work:
            work.remove()
        return report

    def _corpus_info(self) -> Dict[str, Any]:
        info = self.catalog.info()
        for c in info.corpora:
            if c.name == self.corpus:
                return {"rows": c.rows, "text_field": getattr(c, "text_field", None),
                        "columns": [(col.name, col.checkpoint) for col in c.columns]}
        names = ", ".join(c.name for c in info.corpora) or "none"
        raise ValueError(f"catalog {self.catalog_path} has no corpus '{self.corpus}' (corpora: {names})")

    def _validation_records(self) -> List[Dict[str, Any]]:
        if self.validation is None:
            return []
        records = []
        with open(self.validation, encoding="utf-8") as file:
            for number, line in enumerate(file, 1):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                except ValueError as error:
                    raise ValueError(f"{self.validation} line {number}: not JSON ({error})") from None
                if self.subtasks is not None and self.subtasks not in record:
                    raise ValueError(f"{self.validation} line {number} has no subtask field '{self.subtasks}' "
                                     "(give every validation record one, or leave out --subtasks)")
                records.append(record)
        if not records:
            raise ValueError(f"{self.validation} holds no records")
        return records

    def _stages(self) -> List["_Stage"]:
        """One stage per (checkpoint, rows): pool gradients, validation gradients; then embeddings."""
        stages = []
        points = list(enumerate(self.checkpoints, 1)) or [(1, None)]
        for number, checkpoint in points:
            last = number == len(points)
            lm_embed = self.embed == "lm" and last
            stages.append(_Stage("pool-grad", number, checkpoint, self.gradient_column, self.preconditioner, lm_embed))
            if self.target is not None:
                stages.append(_Stage("val-grad", number, checkpoint, self.gradient_column, "none", lm_embed))
        if self.embed not in (None, "lm"):
            stages.append(_Stage("pool-embed", 0, None, self.embedding_column, "none", False))
            if self.target is not None:
                stages.append(_Stage("val-embed", 0, None, self.embedding_column, "none", False))
        return stages

    def _request(self, corpus_info: Mapping[str, Any]) -> Dict[str, Any]:
        def identity(path: Optional[Path]) -> Optional[Dict[str, Any]]:
            if path is None:
                return None
            files = sorted(p for p in path.iterdir() if p.is_file())
            return {"path": os.fspath(path.resolve()),
                    "files": [(p.name, p.stat().st_size, int(p.stat().st_mtime)) for p in files]}
        return {
            "version": 1, "catalog": os.fspath(self.catalog_path.resolve()), "corpus": self.corpus,
            "rows": corpus_info["rows"], "model": _model_identity(self.model),
            "model_files": identity(Path(self.model)) if not self.custom and Path(self.model).is_dir() else None,
            "optimizer_state": _file_digest(self.optimizer_state) if self.optimizer_state is not None else None,
            "checkpoints": [identity(c) for c in self.checkpoints], "target": self.target,
            "validation": _file_digest(self.validation) if self.validation else None, "subtasks": self.subtasks,
            "dim": self.dim, "projection": self.projection, "seed": self.projection_seed, "nonzeros": self.nonzeros,
            "preconditioner": self.preconditioner, "kfac": [self.kfac_rows, self.kfac_damping], "embed": self.embed, "max_length": self.max_length,
            "batch_size": self.batch_size, "dtype": self.dtype, "fields": asdict(self.fields), "lr": self.lr,
            "method": self.method, "columns": [self.gradient_column, self.embedding_column],
        }

    def _refuse_existing_columns(self, stages: Sequence["_Stage"], corpus_info: Mapping[str, Any]) -> None:
        existing = set(corpus_info["columns"])
        for stage in stages:
            if stage.kind.startswith("pool"):
                key = (stage.column, stage.checkpoint)
                if key in existing:
                    raise ValueError(f"corpus '{self.corpus}' already has column {stage.column_label}: name another "
                                     "(--gradient-column / --embedding-column), or use another catalog")
        if self.target is not None:
            for t in self.catalog.targets():
                if t.name != self.target:
                    continue
                if t.rows != len(self.validation_records):
                    raise ValueError(f"target '{self.target}' exists with {t.rows} validation rows, {self.validation} has "
                                     f"{len(self.validation_records)}: choose another --target name")
                taken = {(c.name, c.checkpoint) for c in t.columns}
                for stage in stages:
                    if stage.kind.startswith("val") and (stage.column, stage.checkpoint) in taken:
                        raise ValueError(f"target '{self.target}' already has column {stage.column_label}: name another "
                                         "(--gradient-column / --embedding-column) or another --target")

    # Torch.

    def _tokenizer(self) -> Any:
        if self.custom:
            return None
        from transformers import AutoTokenizer
        source = self.model
        if self.checkpoints and (self.checkpoints[0] / "tokenizer_config.json").is_file():
            source = os.fspath(self.checkpoints[0])
        tokenizer = AutoTokenizer.from_pretrained(source)
        return tokenizer

    def _run_stage(self, stage: "_Stage", work: WorkDirectory, tokenizer: Any) -> Optional[str]:
        rows = self.rows if stage.kind.startswith("pool") else len(self.validation_records)
        if stage.kind.endswith("embed"):
            return self._embedding_stage(stage, work, rows)
        loaded = getattr(self, "_loaded", None)
        if loaded is None or loaded[0] != stage.checkpoint_dir:  # pool and validation rows share a checkpoint's model
            if self.custom:
                model = self.model.to(self.device)
                engine = PerExampleGradients(model, self.loss_fn, self.method)
            else:
                model = load_model_at(self.model, stage.checkpoint_dir, DTYPES[self.dtype]).to(self.device)
                engine = PerExampleGradients(model, causal_lm_losses, self.method)
            self._loaded = loaded = (stage.checkpoint_dir, model, engine)
        _, model, engine = loaded
        source = f"corpus '{self.corpus}'" if stage.kind.startswith("pool") else os.fspath(self.validation)
        make_batch = self._batcher(model, tokenizer, source, stage)
        projector = self._projector(engine.n_params)
        stage.projection_identity = projector.identity
        stage.n_params = engine.n_params
        state = None
        if needs_optimizer_state(stage.preconditioner):
            state = load_adam_state(stage.checkpoint_dir or self.optimizer_state, engine.parameters, model)
        kfac = self._kfac(model, make_batch, stage) if stage.preconditioner == "kfac" else None
        stage.learning_rate = self._learning_rate(stage)
        if self.rank == 0:
            work.create()
        gradients = self._shared_matrix(work, stage.matrix_name, rows, self.dim)
        embeddings = None
        if stage.lm_embed:
            hidden = model.get_output_embeddings().in_features
            embeddings = self._shared_matrix(work, stage.embed_matrix_name, rows, hidden)
        outputs = [m for m in (gradients, embeddings) if m is not None]
        capture = _LastTokenHidden(model) if stage.lm_embed else None
        todo = self._pending_batches(rows, outputs)
        group_batches = self._projection_group(projector, engine.n_params)
        bar = self._progress(stage, todo)
        pending: List[Tuple[np.ndarray, torch.Tensor, Optional[np.ndarray], List[int]]] = []

        def flush() -> None:
            """Projects the buffered rows at once (the dense matrix is generated once per group), writes
            them, then marks them done."""
            if not pending:
                return
            if isinstance(projector, RademacherProjector):
                stacked = torch.cat([g for _, g, _, _ in pending])
                projected = projector.finish(_dense_project(projector, stacked))
                parts = torch.split(projected, [g.shape[0] for _, g, _, _ in pending])
            else:
                parts = [g for _, g, _, _ in pending]
            for (index, _, hidden, empty), values in zip(pending, parts):
                array = values.cpu().numpy()
                if empty:
                    array[empty] = np.nan  # attached with nonfinite=mark-unusable: no gradient, never selected
                gradients.write(index, array)
                if hidden is not None and embeddings is not None:
                    embeddings.write(index, hidden)
            for index, _, _, _ in pending:
                for matrix in outputs:
                    matrix.mark_done(index)
            pending.clear()

        current_group = None
        try:
            rows_iter = iter(self._row_batches(stage, rows, todo))
            while True:
                batch_rows = next(rows_iter, None)  # reading records is not compute
                if batch_rows is None:
                    break
                started = time.perf_counter()
                k = batch_rows[0][0] // self.batch_size
                if current_group is not None and k // group_batches != current_group:
                    flush()
                current_group = k // group_batches
                index = np.array([row for row, _ in batch_rows], dtype=np.int64)
                batch, empty = make_batch(batch_rows)
                if empty and stage.kind == "val-grad":
                    raise ValueError(f"{self.validation} row {int(index[empty[0]])}: no token to compute a loss on "
                                     "(empty text, or the completion truncated away by --max-length)")
                if capture is not None:
                    capture.reset()
                grads, _ = engine(batch)
                if kfac is not None:
                    grads = kfac.apply(grads)
                hidden = capture.take(batch["attention_mask"]).cpu().numpy() if capture is not None else None
                if isinstance(projector, RademacherProjector):
                    chunks = [precondition(stage.preconditioner, grads[p.name], p.name, state) for p in engine.parameters]
                    pending.append((index, torch.cat(chunks, dim=1), hidden, empty))
                else:
                    out = torch.zeros((len(batch_rows), self.dim), dtype=torch.float32, device=self.device)
                    for p in engine.parameters:
                        projector.accumulate(out, precondition(stage.preconditioner, grads[p.name], p.name, state), p.offset)
                    pending.append((index, projector.finish(out), hidden, empty))
                del grads
                if group_batches == 1:
                    flush()
                self.compute_seconds += time.perf_counter() - started
                if bar is not None:
                    bar.update(1)
                    bar.set_postfix_str(f"{self.counts.tokens / max(1e-9, bar.format_dict['elapsed']):,.0f} tok/s", refresh=False)
            started = time.perf_counter()
            flush()
            for matrix in outputs:
                matrix.sync()
            self.compute_seconds += time.perf_counter() - started
        finally:
            if bar is not None:
                bar.close()
            if capture is not None:
                capture.remove()
        return engine.method

    def _kfac(self, model: torch.nn.Module, make_batch: Callable, stage: "_Stage") -> Any:
        """K-FAC factors at this checkpoint, over ``kfac_rows`` pool rows drawn with the projection seed
        (the same rows, so the same factors, in every rank and every resumed run)."""
        from .kfac import KFAC
        if self.custom:
            raise ValueError("--preconditioner kfac needs a causal LM (its factors sample next-token labels)")
        cached = getattr(self, "_kfac_cache", None)
        if cached is not None and cached[0] == stage.checkpoint_dir:
            return cached[1]
        rng = np.random.default_rng(self.projection_seed)
        chosen = set(rng.choice(self.rows, size=min(self.kfac_rows, self.rows), replace=False).tolist())
        sample = [(row, record) for row, record in self.catalog.records(self.corpus) if row in chosen]

        def sample_batches() -> Iterator[Dict[str, torch.Tensor]]:
            for group in batches(sample, self.batch_size):
                yield make_batch(group)[0]
        counted = self.counts.tokens
        factors = KFAC.estimate(model, sample_batches(), damping=self.kfac_damping, seed=self.projection_seed)
        self.counts.tokens = counted  # the sample's tokens are not the run's throughput
        self._kfac_cache = (stage.checkpoint_dir, factors)
        return factors

    def _batcher(self, model: torch.nn.Module, tokenizer: Any, source: str, stage: "_Stage") -> Callable:
        """``rows -> (batch on the device, positions of rows without a token to learn from)``."""
        if self.custom:
            def custom(batch_rows: List[Tuple[int, Any]]) -> Tuple[Dict[str, torch.Tensor], List[int]]:
                batch = self.batch_fn([record for _, record in batch_rows])
                self.counts.tokens += len(batch_rows)  # rows stand in for tokens
                return {k: v.to(self.device) if hasattr(v, "to") else v for k, v in batch.items()}, []
            return custom
        vocab = model.get_input_embeddings().num_embeddings
        tokenizing = Tokenizing(tokenizer, self.fields, self.max_length, vocab_size=vocab, source=source)
        pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else (tokenizer.eos_token_id or 0)

        def language(batch_rows: List[Tuple[int, Any]]) -> Tuple[Dict[str, torch.Tensor], List[int]]:
            examples = [tokenizing.example(row, record, self.counts) for row, record in batch_rows]
            empty = [i for i, (_, labels) in enumerate(examples) if not has_loss_token(labels)]
            return collate(examples, pad, self.device), empty
        return language

    def _projection_group(self, projector: Any, n_params: int) -> int:
        """Batches projected together: one for the sparse projection; for the dense one as many as
        ``projection_buffer`` bytes of unprojected gradients hold (aligned to fixed batch numbers, so a
        resumed run groups rows as the first did), since the dense matrix is generated once per group."""
        if not isinstance(projector, RademacherProjector) or projector.n_params * projector.dim * 4 <= projector.cache_bytes:
            return 1
        rows = max(self.batch_size, min(4096, self.projection_buffer // (4 * n_params)))
        return max(1, rows // self.batch_size)

    def _embedding_stage(self, stage: "_Stage", work: WorkDirectory, rows: int) -> None:
        from .embeddings import SentenceEmbedder
        embedder = SentenceEmbedder(self.embed, self.device)  # type: ignore[arg-type]
        stage.projection_identity = None
        matrix = self._shared_matrix(work, stage.matrix_name, rows, embedder.dim)
        todo = self._pending_batches(rows, [matrix])
        bar = self._progress(stage, todo)
        text = self.fields.text
        for batch_rows in self._row_batches(stage, rows, todo):
            texts = []
            for row, record in batch_rows:
                if self.fields.prompt is not None:
                    texts.append(f"{record.get(self.fields.prompt) or ''}{record.get(self.fields.completion) or ''}")
                else:
                    texts.append(record.get(text) or "")
            index = np.array([row for row, _ in batch_rows], dtype=np.int64)
            matrix.write(index, embedder.encode(texts))
            matrix.mark_done(index)
            if bar is not None:
                bar.update(1)
        matrix.sync()
        if bar is not None:
            bar.close()
        return None

    def _shared_matrix(self, work: WorkDirectory, name: str, rows: int, dim: int) -> ResumableMatrix:
        """A work matrix every rank writes into: rank 0 creates (or reopens) it, the others open it
        after a barrier, so no rank opens a file that is still being created."""
        matrix = work.matrix(name, rows, dim, self.sync_seconds) if self.rank == 0 else None
        self._barrier()
        return matrix if matrix is not None else work.matrix(name, rows, dim, self.sync_seconds)

    def _projector(self, n_params: int) -> Any:
        if self.projection == "rademacher":
            return RademacherProjector(self.projection_seed, n_params, self.dim)
        return SparseSignProjector(self.projection_seed, n_params, self.dim, nonzeros=self.nonzeros)

    def _learning_rate(self, stage: "_Stage") -> float:
        if self.lr is not None:
            return float(self.lr)
        if stage.checkpoint_dir is None:
            return 1.0
        return epoch_learning_rate(stage.checkpoint_dir)

    # Rows and batches.

    def _pending_batches(self, rows: int, outputs: Sequence[ResumableMatrix]) -> List[int]:
        """This rank's batches (k with k % world == rank) that some output has not finished."""
        n_batches = math.ceil(rows / self.batch_size)
        pending = []
        for k in range(self.rank, n_batches, self.world):
            index = np.arange(k * self.batch_size, min(rows, (k + 1) * self.batch_size))
            if not all(m.is_done(index) for m in outputs):
                pending.append(k)
        return pending

    def _row_batches(self, stage: "_Stage", rows: int, todo: Sequence[int]) -> Iterator[List[Tuple[int, Any]]]:
        wanted = set(todo)
        if not wanted:
            return
        if stage.kind.startswith("pool"):
            first = min(wanted) * self.batch_size
            last = min(rows, (max(wanted) + 1) * self.batch_size)
            records: Iterable[Tuple[int, Any]] = self.catalog.records(self.corpus, start=first, count=last - first)
        else:
            records = enumerate(self.validation_records)
        for group in batches(records, self.batch_size):
            k = group[0][0] // self.batch_size
            if k in wanted:
                yield group

    def _progress(self, stage: "_Stage", todo: Sequence[int]) -> Any:
        if not self.progress or not todo:
            return None
        try:
            from tqdm.auto import tqdm
        except ImportError:
            return None
        label = {"pool-grad": "pool gradients", "val-grad": "validation gradients",
                 "pool-embed": "pool embeddings", "val-embed": "validation embeddings"}[stage.kind]
        where = f" ckpt {stage.checkpoint}" if stage.checkpoint else ""
        rank = f" rank {self.rank}/{self.world}" if self.world > 1 else ""
        return tqdm(total=len(todo), desc=f"{label}{where}{rank}", unit="batch", dynamic_ncols=True)

    # Into the catalog.

    def _attach(self, stages: Sequence["_Stage"], work: WorkDirectory) -> None:
        done = work.attached()
        # a target that existed before this run has its subtasks already (they are given once)
        subtasks_written = self.target_existed
        for stage in stages:
            outputs = [(stage.matrix_name, stage.kind, stage.column)]
            if stage.lm_embed:
                outputs.append((stage.embed_matrix_name, stage.kind.replace("grad", "embed"), self.embedding_column))
            for name, kind, column in outputs:
                if name in done:
                    continue
                matrix_path = work.path / f"{name}.npy"
                rows = np.load(work.path / f"{name}.done", mmap_mode="r")
                if not rows.all():
                    raise RuntimeError(f"{matrix_path}: {int((rows == 0).sum())} rows were never computed; rerun the same command")
                gradient = kind.endswith("grad")
                if kind.startswith("pool"):
                    self.catalog.attach(
                        matrix_path, corpus=self.corpus, column=column, checkpoint=stage.checkpoint if gradient else None,
                        lr=stage.learning_rate if gradient else None, kind="gradient" if gradient else "embedding",
                        projection=stage.projection_identity if gradient else None, precision="f16" if gradient else None,
                        nonfinite="mark-unusable" if gradient else None)
                else:
                    labels = None
                    if not subtasks_written and self.subtasks is not None:
                        labels = [str(r[self.subtasks]) for r in self.validation_records]
                    self.catalog.add_target(
                        self.target, matrix_path, checkpoint=stage.checkpoint if gradient else None, column=column,  # type: ignore[arg-type]
                        kind="gradient" if gradient else "embedding",
                        projection=stage.projection_identity if gradient else None, subtasks=labels)
                    subtasks_written = subtasks_written or labels is not None
                work.mark_attached(name, True)
            # the subtasks go with the target's first column, once, even when resuming after it
            if stage.kind.startswith("val") and self.subtasks is not None:
                subtasks_written = True

    # torchrun.

    def _distributed_setup(self) -> None:
        self._group = False
        if self.world > 1:
            import torch.distributed as dist
            if not dist.is_initialized():
                dist.init_process_group("gloo")
                self._group = True

    def _barrier(self) -> None:
        if self.world > 1:
            import torch.distributed as dist
            dist.barrier()

    def _distributed_teardown(self) -> None:
        if getattr(self, "_group", False):
            import torch.distributed as dist
            dist.destroy_process_group()


@dataclass
class _Stage:
    kind: str                      # pool-grad, val-grad, pool-embed, val-embed
    checkpoint: int
    checkpoint_dir: Optional[Path]
    column: str
    preconditioner: str
    lm_embed: bool
    projection_identity: Optional[str] = None
    learning_rate: Optional[float] = None
    n_params: int = 0

    @property
    def matrix_name(self) -> str:
        return f"{self.kind}-{self.checkpoint}"

    @property
    def embed_matrix_name(self) -> str:
        return f"{self.kind.replace('grad', 'embed')}-lm"

    @property
    def column_label(self) -> str:
        return f"{self.column}@{self.checkpoint}" if self.kind.endswith("grad") else self.column

    def describe(self) -> Dict[str, Any]:
        return {"checkpoint": self.checkpoint, "directory": os.fspath(self.checkpoint_dir) if self.checkpoint_dir else None,
                "lr": self.learning_rate, "parameters": self.n_params, "projection": self.projection_identity}


class _LastTokenHidden:
    """The input of the output head (the last layer's hidden state) at each row's last real token: LESS's
    RDS representation, captured from the forward pass the gradients need anyway."""

    def __init__(self, model: torch.nn.Module):
        head = model.get_output_embeddings()
        self.hidden: Optional[torch.Tensor] = None
        self.handle = head.register_forward_pre_hook(self._keep)

    def _keep(self, module: Any, inputs: Tuple[Any, ...]) -> None:
        self.hidden = inputs[0].detach()

    def reset(self) -> None:
        self.hidden = None

    def take(self, attention_mask: torch.Tensor) -> torch.Tensor:
        assert self.hidden is not None
        last = attention_mask.sum(dim=1) - 1
        return self.hidden[torch.arange(self.hidden.shape[0], device=self.hidden.device), last].to(torch.float32)

    def remove(self) -> None:
        self.handle.remove()


def _dense_project(projector: RademacherProjector, gradients: torch.Tensor) -> torch.Tensor:
    """``gradients @ R`` (unscaled) for a whole group of rows, each block of R generated once."""
    out = torch.zeros((gradients.shape[0], projector.dim), dtype=torch.float32, device=gradients.device)
    projector.accumulate(out, gradients, 0)
    return out


def _model_identity(model: Any) -> Any:
    """A name for the request hash: the HF model's path or name, or a torch module's class and a digest of
    its parameter values (a changed module never resumes another's run)."""
    if isinstance(model, str):
        return model
    digest = hashlib.sha256(type(model).__qualname__.encode())
    for name, tensor in model.state_dict().items():
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return {"module": type(model).__qualname__, "sha256": digest.hexdigest()}


def _file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


__all__ = ["FeatureReport", "collect"]
