#!/usr/bin/env python3
"""Convert gradient stores written by LESS or TRAK into .npy files that `quadcat attach` reads.

LESS (princeton-nlp/LESS, collect_grad_reps.py) writes, per checkpoint, a folder such as
`grads/llama2-7b-p0.05-lora-seed3/tydiqa-ckpt105-adam/dim8192/` holding `grads-160.pt`,
`grads-320.pt`, ... (160 unnormalised rows each, in data order) and, after merging, `all_orig.pt`
(rows L2-normalised) and `all_unormalized.pt`. TRAK (MadryLab/trak) writes a save_dir whose
`{model_id}/grads.mmap` is already an .npy file of shape (n, proj_dim); only rows flagged in
`{model_id}/_is_featurized.mmap` hold gradients.

Examples:
  # one LESS checkpoint folder -> one .npy (rows in data order, as LESS wrote them)
  python3 tools/convert_gradients.py less grads/.../tydiqa-ckpt105-adam/dim8192 grads_ckpt1.npy
  quadcat attach cat.quadcat --corpus pool --column grad --checkpoint 1 --lr 1.6877e-05 grads_ckpt1.npy

  # a TRAK store -> .npy, plus an ids file when only some rows were featurized
  python3 tools/convert_gradients.py trak trak_results/ grads.npy --model-id 0 --ids-out grads.ids --ids corpus_ids.txt

Options common to both: --dtype float16|float32 (default float16: half the disk, what LESS stores).
LESS needs torch (to read .pt files); TRAK needs only numpy.
"""
import argparse
import os
import re
import sys

import numpy as np


def fail(message):
    print(f"convert_gradients: error: {message}", file=sys.stderr)
    sys.exit(1)


def write_npy(array, out, dtype):
    array = np.ascontiguousarray(array, dtype=np.dtype(dtype))
    if array.ndim != 2:
        fail(f"expected a 2-D array of gradients, got shape {array.shape}")
    if not np.isfinite(array).all():
        bad = np.where(~np.isfinite(array).all(axis=1))[0]
        print(f"warning: {len(bad)} rows hold NaN or inf (first: {bad[:5].tolist()}); "
              "quadcat refuses them unless you attach with --nonfinite mark-unusable", file=sys.stderr)
    np.save(out, array)
    print(f"wrote {out}: {array.shape[0]} x {array.shape[1]} {array.dtype}")


def load_less(folder, which):
    import torch  # LESS stores torch tensors

    def load(path):
        tensor = torch.load(path, map_location="cpu")
        return tensor.float().numpy() if hasattr(tensor, "float") else np.asarray(tensor, dtype=np.float32)

    if os.path.isfile(folder):
        return load(folder)
    merged = {"normalized": "all_orig.pt", "unnormalized": "all_unormalized.pt"}[which]
    path = os.path.join(folder, merged)
    if os.path.exists(path):
        return load(path)
    chunks = sorted(
        (int(m.group(1)), name)
        for name in os.listdir(folder)
        if (m := re.fullmatch(r"grads-(\d+)\.pt", name))
    )
    if not chunks:
        fail(f"{folder} holds neither {merged} nor grads-N.pt chunks")
    rows = np.concatenate([load(os.path.join(folder, name)) for _, name in chunks])
    if which == "normalized":
        norms = np.linalg.norm(rows, axis=1, keepdims=True)
        rows = rows / np.maximum(norms, 1e-12)
    return rows


def convert_trak(store, model_id, out, dtype, ids_in, ids_out):
    path = os.path.join(store, str(model_id), "grads.mmap")
    if not os.path.exists(path):
        fail(f"{path} does not exist (was finalize_features run with del_grads=True?)")
    grads = np.load(path, mmap_mode="r")
    flags_path = os.path.join(store, str(model_id), "_is_featurized.mmap")
    featurized = np.load(flags_path, mmap_mode="r").astype(bool) if os.path.exists(flags_path) else np.ones(len(grads), bool)
    if featurized.all():
        write_npy(grads, out, dtype)
        return
    rows = np.where(featurized)[0]
    if not ids_in or not ids_out:
        fail(f"only {len(rows)} of {len(grads)} rows are featurized: pass --ids (the corpus ids in TRAK's row order) "
             "and --ids-out, then attach with --ids")
    with open(ids_in) as f:
        ids = [line.rstrip("\n") for line in f if line.strip()]
    if len(ids) != len(grads):
        fail(f"{ids_in} names {len(ids)} ids, the store has {len(grads)} rows")
    write_npy(np.asarray(grads[rows]), out, dtype)
    with open(ids_out, "w") as f:
        f.writelines(ids[r] + "\n" for r in rows)
    print(f"wrote {ids_out}: {len(rows)} ids (attach with --ids {ids_out})")


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
        write_npy(load_less(args.input, args.rows), args.out, args.dtype)
    else:
        convert_trak(args.input, args.model_id, args.out, args.dtype, args.ids, args.ids_out)


if __name__ == "__main__":
    main()
