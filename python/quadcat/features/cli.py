"""``python -m quadcat features CATALOG ...`` and ``python -m quadcat warmup CATALOG ...``: the command-line
forms of :func:`quadcat.features.collect` and :func:`quadcat.features.warmup.warmup`."""
import argparse
import json
import sys
from dataclasses import asdict
from typing import Optional, Sequence


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m quadcat features",
        description="Compute per-example projected gradients (one column per checkpoint) and embeddings of a "
                    "catalog's corpus with a Hugging Face causal LM, and write them into the catalog. Resumable: "
                    "rerun the same command after an interruption. Data-parallel under torchrun.",
        epilog="example: python -m quadcat features cat.quadcat --corpus pool --model ./base "
               "--checkpoint out/checkpoint-1 --checkpoint out/checkpoint-2 --target val --validation val.jsonl "
               "--subtasks task --embed lm")
    p.add_argument("catalog", help="the catalog directory")
    p.add_argument("--corpus", required=True, help="the corpus whose rows get features")
    p.add_argument("--model", required=True, help="HF causal LM: a local directory or a name in the local cache")
    p.add_argument("--checkpoint", action="append", default=[], metavar="DIR",
                   help="an HF Trainer checkpoint directory (adapter or weights, optimizer.pt/.bin, trainer_state.json); "
                        "repeat in training order: checkpoints 1, 2, ...")
    p.add_argument("--target", help="target name for the validation rows' gradients")
    p.add_argument("--validation", metavar="FILE", help="validation JSONL (same fields as the corpus)")
    p.add_argument("--subtasks", metavar="FIELD", help="the validation record field naming each row's subtask")
    p.add_argument("--dim", type=int, default=8192, help="projected dimension (default 8192)")
    p.add_argument("--projection", choices=["sjlt", "rademacher"], default="sjlt",
                   help="sjlt: sparse JL, fast (default); rademacher: dense, LESS/TRAK-compatible")
    p.add_argument("--projection-seed", type=int, default=0)
    p.add_argument("--nonzeros", type=int, default=4, help="sjlt's nonzeros per coordinate (default 4)")
    p.add_argument("--preconditioner", choices=["adam", "adam-v", "none", "kfac"],
                   help="pool rows: adam (LESS; default with --checkpoint), adam-v, none (default without), "
                        "kfac (Quad's influence: a K-FAC inverse Gauss-Newton per linear layer)")
    p.add_argument("--kfac-rows", type=int, default=512, help="pool rows the K-FAC factors are estimated on (default 512)")
    p.add_argument("--kfac-damping", type=float, default=0.1,
                   help="K-FAC damping relative to the mean eigenvalue product (default 0.1)")
    p.add_argument("--embed", metavar="MODEL",
                   help="also write embeddings: 'lm' (the LM's last-token hidden state, LESS's RDS) or a "
                        "sentence-transformers model")
    p.add_argument("--max-length", type=int, default=512, help="tokens per row; longer rows are truncated and counted")
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--dtype", choices=["fp32", "bf16", "fp16"], default="fp32", help="the model's compute dtype")
    p.add_argument("--gradient-column", default="grad")
    p.add_argument("--embedding-column", default="emb")
    p.add_argument("--text-field", help="record field with the text (default: the corpus's text field)")
    p.add_argument("--prompt-field", help="with --completion-field: only the completion's tokens are in the loss")
    p.add_argument("--completion-field")
    p.add_argument("--lr", type=float, help="learning rate recorded for every checkpoint (default: trainer_state.json)")
    p.add_argument("--method", choices=["auto", "hooks", "func", "loop"], default="auto",
                   help="per-example gradient method (default auto: hooks where every trainable parameter is a linear layer's)")
    p.add_argument("--device", help="torch device (default: cuda:LOCAL_RANK when CUDA is there, else cpu)")
    p.add_argument("--work-dir", help="where the resumable run lives (default: CATALOG-features/ beside the catalog)")
    p.add_argument("--keep-work", action="store_true", help="keep the work directory after attaching")
    p.add_argument("--sync-seconds", type=float, default=5.0,
                   help="how often finished rows are made durable (default 5; a rerun recomputes at most that much)")
    p.add_argument("--no-progress", action="store_true")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    return p


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parser().parse_args(argv)
    try:
        from .pipeline import collect
        report = collect(
            args.catalog, corpus=args.corpus, model=args.model, checkpoints=args.checkpoint, target=args.target,
            validation=args.validation, subtasks=args.subtasks, dim=args.dim, projection=args.projection,
            projection_seed=args.projection_seed, nonzeros=args.nonzeros, preconditioner=args.preconditioner,
            embed=args.embed, max_length=args.max_length, batch_size=args.batch_size, dtype=args.dtype,
            gradient_column=args.gradient_column, embedding_column=args.embedding_column, text_field=args.text_field,
            prompt_field=args.prompt_field, completion_field=args.completion_field, lr=args.lr, method=args.method,
            device=args.device, work_dir=args.work_dir, progress=not args.no_progress, keep_work=args.keep_work,
            sync_seconds=args.sync_seconds, kfac_rows=args.kfac_rows, kfac_damping=args.kfac_damping)
    except ImportError as error:
        print(f"quadcat features: error: {error} (install the features extra: pip install 'quadcat[features]')", file=sys.stderr)
        return 2
    except (ValueError, FileNotFoundError, RuntimeError) as error:
        print(f"quadcat features: error: {error}", file=sys.stderr)
        return 1
    except Exception as error:  # the catalog's own errors (QuadcatError) and anything torch raises
        print(f"quadcat features: error: {error}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(asdict(report), indent=1))
    elif int(__import__("os").environ.get("RANK", "0")) == 0:
        _summary(report)
    return 0


def warmup_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m quadcat warmup",
        description="LESS's warmup: train a LoRA adapter on a random fraction of a catalog's corpus (recorded as a "
                    "subset) with the HF Trainer, one checkpoint per epoch with its optimizer state, ready for "
                    "`python -m quadcat features --checkpoint`. Rerun to resume from the last checkpoint.")
    p.add_argument("catalog")
    p.add_argument("--corpus", required=True)
    p.add_argument("--model", required=True, help="HF causal LM: a local directory or a name in the local cache")
    p.add_argument("--out", required=True, help="the output directory (checkpoint-N per epoch)")
    p.add_argument("--fraction", type=float, default=0.05, help="share of the corpus to train on (default 0.05)")
    p.add_argument("--epochs", type=int, default=4)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--lora-r", type=int, default=128)
    p.add_argument("--lora-alpha", type=int, default=512)
    p.add_argument("--lora-dropout", type=float, default=0.1)
    p.add_argument("--target-modules", help="comma-separated module names (default: q/k/v/o_proj, else all linear layers)")
    p.add_argument("--learning-rate", type=float, default=2e-5)
    p.add_argument("--batch-size", type=int, default=1)
    p.add_argument("--gradient-accumulation", type=int, default=32)
    p.add_argument("--max-length", type=int, default=512)
    p.add_argument("--text-field")
    p.add_argument("--prompt-field")
    p.add_argument("--completion-field")
    p.add_argument("--subset", help="name of the recorded sample (default warmup-CORPUS-SEED)")
    p.add_argument("--dtype", choices=["fp32", "bf16", "fp16"], default="fp32")
    p.add_argument("--json", action="store_true")
    return p


def warmup_main(argv: Optional[Sequence[str]] = None) -> int:
    args = warmup_parser().parse_args(argv)
    try:
        from .warmup import warmup
        report = warmup(args.catalog, corpus=args.corpus, model=args.model, out=args.out, fraction=args.fraction,
                        epochs=args.epochs, seed=args.seed, lora_r=args.lora_r, lora_alpha=args.lora_alpha,
                        lora_dropout=args.lora_dropout,
                        target_modules=args.target_modules.split(",") if args.target_modules else None,
                        learning_rate=args.learning_rate, batch_size=args.batch_size,
                        gradient_accumulation=args.gradient_accumulation, max_length=args.max_length,
                        text_field=args.text_field, prompt_field=args.prompt_field,
                        completion_field=args.completion_field, subset_name=args.subset, dtype=args.dtype,
                        progress=not args.json)
    except ImportError as error:
        print(f"quadcat warmup: error: {error} (install the features extra: pip install 'quadcat[features]')", file=sys.stderr)
        return 2
    except Exception as error:
        print(f"quadcat warmup: error: {error}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(asdict(report), indent=1))
    else:
        print(f"warmup on {report.rows:,} rows ({report.subset}) for {report.epochs} epochs in {report.seconds:.1f} s; "
              f"{report.trainable_parameters:,} LoRA parameters")
        for checkpoint in report.checkpoints:
            print(f"  {checkpoint}")
        print("next: python -m quadcat features CATALOG --corpus ... --model ... "
              + " ".join(f"--checkpoint {c}" for c in report.checkpoints))
    return 0


def _summary(report) -> None:
    print(f"features for {report.rows:,} rows of '{report.corpus}' in {report.seconds:.1f} s "
          f"({report.tokens:,} tokens, {report.tokens_per_second:,.0f} tokens/s; method {report.method}"
          f"{', resumed' if report.resumed else ''})")
    for c in report.checkpoints:
        print(f"  {report.columns and 'grad'} checkpoint {c['checkpoint']}: lr {c['lr']:.4g}, {c['parameters']:,} parameters, "
              f"projection {c['projection']}")
    print(f"  columns: {', '.join(report.columns)}; preconditioner {report.preconditioner}")
    if report.target:
        print(f"  target '{report.target}': {report.validation_rows} validation rows")
    if report.truncated_rows:
        print(f"  {report.truncated_rows} rows truncated to --max-length")
    if report.empty_rows:
        print(f"  {len(report.empty_rows)} rows had no token to learn from (marked unusable): rows "
              f"{', '.join(str(r) for r in report.empty_rows[:10])}{' ...' if len(report.empty_rows) > 10 else ''}")


if __name__ == "__main__":
    sys.exit(main())
