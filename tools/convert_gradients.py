#!/usr/bin/env python3
"""Convert gradient stores written by LESS or TRAK into .npy files that `quadcat attach` reads.

LESS (princeton-nlp/LESS, collect_grad_reps.py) writes, per checkpoint, a folder such as
`grads/llama2-7b-p0.05-lora-seed3/tydiqa-ckpt105-adam/dim8192/` holding `grads-160.pt`,
`grads-320.pt`, ... (each file named by the count of rows written so far, so `grads-320.pt` holds rows
160..319, unnormalised, in data order) and, after merging, `all_orig.pt` (rows L2-normalised) and
`all_unormalized.pt`. TRAK (MadryLab/trak) writes a save_dir whose `{model_id}/grads.mmap` is already
an .npy file of shape (n, proj_dim); only rows flagged in `{model_id}/_is_featurized.mmap` hold
gradients.

Both stream through quadcat.GradientWriter, one chunk (or 64 MB block) at a time: converting the LESS
paper's pool (270,000 x 8,192) needs memory for one chunk, not for the whole matrix.

Examples:
  # one LESS checkpoint folder -> one .npy (rows in data order, as LESS wrote them)
  python3 tools/convert_gradients.py less grads/.../tydiqa-ckpt105-adam/dim8192 grads_ckpt1.npy
  quadcat attach cat.quadcat --corpus pool --column grad --checkpoint 1 --lr 1.6877e-05 grads_ckpt1.npy

  # a TRAK store -> .npy, plus an ids file when only some rows were featurized
  python3 tools/convert_gradients.py trak trak_results/ grads.npy --model-id 0 --ids-out grads.ids --ids corpus_ids.txt

Options common to both: --dtype float16|float32 (default float16: half the disk, what LESS stores).
LESS needs torch (to read .pt files); TRAK needs only numpy. Uses the quadcat Python package when it is
installed, else the one in this checkout (python/).
"""
import argparse
import os
import re
import sys

import numpy as np

try:
    from quadcat.gradients import GradientWriter
except ImportError:
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
    from quadcat.gradients import GradientWriter

BLOCK_BYTES = 64 << 20


def fail(message):
    print(f"convert_gradients: error: {message}", file=sys.stderr)
    sys.exit(1)


def finish(writer):
    """Closes the writer and reports what it wrote, warning about non-finite rows."""
    writer.close()
    print(f"wrote {writer.path}: {writer.rows} x {writer.dim} {writer.dtype.name}")
    if writer.nonfinite_rows:
        print(f"warning: {writer.nonfinite_rows} rows hold NaN or inf; quadcat refuses them unless you attach "
              "with --nonfinite mark-unusable", file=sys.stderr)


def open_writer(out, rows, dim, dtype, **options):
    try:
        return GradientWriter(out, rows, dim, dtype, allow_nonfinite=True, **options)
    except (ValueError, OSError) as error:
        fail(str(error))


def as_float32(tensor):
    return tensor.float().numpy() if hasattr(tensor, "float") else np.asarray(tensor, dtype=np.float32)


def normalize(rows):
    return rows / np.maximum(np.linalg.norm(rows, axis=1, keepdims=True), 1e-12)


def load_tensor(path, mmap):
    import torch  # LESS stores torch tensors
    if mmap:
        try:
            return torch.load(path, map_location="cpu", mmap=True)
        except (TypeError, RuntimeError):  # older torch, or a file in the legacy format
            pass
    return torch.load(path, map_location="cpu")


def convert_less(folder, out, dtype, which):
    if os.path.isfile(folder):
        return convert_less_file(folder, out, dtype, False)
    merged = {"normalized": "all_orig.pt", "unnormalized": "all_unormalized.pt"}[which]
    path = os.path.join(folder, merged)
    if os.path.exists(path):
        return convert_less_file(path, out, dtype, False)
    chunks = sorted(
        (int(m.group(1)), name)
        for name in os.listdir(folder)
        if (m := re.fullmatch(r"grads-(\d+)\.pt", name))
    )
    if not chunks:
        fail(f"{folder} holds neither {merged} nor grads-N.pt chunks")
    writer = None
    start = 0
    for end, name in chunks:
        rows = as_float32(load_tensor(os.path.join(folder, name), mmap=False))
        if rows.ndim != 2 or rows.shape[0] != end - start:
            fail(f"{name} holds {rows.shape[0] if rows.ndim else 0} rows; LESS names chunks by the rows written "
                 f"so far, so it should hold rows {start}..{end - 1} ({end - start} rows)")
        if writer is None:
            writer = open_writer(out, chunks[-1][0], rows.shape[1], dtype)
        writer.write(normalize(rows) if which == "normalized" else rows, rows=start)
        start = end
    finish(writer)


def convert_less_file(path, out, dtype, normalized):
    """One .pt tensor (a merged file, or a single chunk), read through mmap when torch can."""
    tensor = load_tensor(path, mmap=True)
    if tensor.ndim != 2:
        fail(f"{path} holds a tensor of shape {tuple(tensor.shape)}, not (rows, dim)")
    rows, dim = tensor.shape
    writer = open_writer(out, rows, dim, dtype)
    block = max(1, BLOCK_BYTES // (4 * dim))
    for begin in range(0, rows, block):
        values = as_float32(tensor[begin:begin + block])
        writer.write(normalize(values) if normalized else values)
    finish(writer)


def convert_trak(store, model_id, out, dtype, ids_in, ids_out):
    path = os.path.join(store, str(model_id), "grads.mmap")
    if not os.path.exists(path):
        fail(f"{path} does not exist (was finalize_features run with del_grads=True?)")
    grads = np.load(path, mmap_mode="r")
    flags_path = os.path.join(store, str(model_id), "_is_featurized.mmap")
    featurized = np.load(flags_path, mmap_mode="r").astype(bool) if os.path.exists(flags_path) else np.ones(len(grads), bool)
    rows = np.flatnonzero(featurized)
    options = {}
    if rows.size < len(grads):
        if not ids_in or not ids_out:
            fail(f"only {rows.size} of {len(grads)} rows are featurized: pass --ids (the corpus ids in TRAK's row order) "
                 "and --ids-out, then attach with --ids")
        with open(ids_in) as f:
            ids = [line.rstrip("\n") for line in f if line.strip()]
        if len(ids) != len(grads):
            fail(f"{ids_in} names {len(ids)} ids, the store has {len(grads)} rows")
        options = {"partial": True, "ids": ids, "ids_path": ids_out}
    writer = open_writer(out, len(grads), grads.shape[1], dtype, **options)
    block = max(1, BLOCK_BYTES // (grads.dtype.itemsize * grads.shape[1]))
    for begin in range(0, rows.size, block):
        selected = rows[begin:begin + block]
        writer.write(np.asarray(grads[selected]), rows=selected)
    finish(writer)
    if options:
        print(f"wrote {ids_out}: {rows.size} ids (attach with --ids {ids_out})")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="source", required=True)
    less = sub.add_parser("less", help="a LESS gradient folder (dimN/) or a single .pt file")
    less.add_argument("input")
    less.add_argument("out")
    less.add_argument("--rows", choices=["unnormalized", "normalized"], default="unnormalized",
                      help="quadcat normalises where a selector needs it; keep raw gradients (default)")
    less.add_argument("--dtype", choices=["float16", "float32"], default="float16")
    trak = sub.add_parser("trak", help="a TRAK save_dir")
    trak.add_argument("input")
    trak.add_argument("out")
    trak.add_argument("--model-id", default="0")
    trak.add_argument("--dtype", choices=["float16", "float32"], default="float16")
    trak.add_argument("--ids", help="corpus ids in TRAK's row order, one per line")
    trak.add_argument("--ids-out", help="where to write the ids of the featurized rows")
    args = parser.parse_args()
    if args.source == "less":
        convert_less(args.input, args.out, args.dtype, args.rows)
    else:
        convert_trak(args.input, args.model_id, args.out, args.dtype, args.ids, args.ids_out)


if __name__ == "__main__":
    main()
