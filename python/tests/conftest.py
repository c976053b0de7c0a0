"""Shared fixtures: the real quadcat binary, a demo catalog it builds, small corpora on disk."""
import contextlib
import json
import os
import signal
import subprocess
import threading
import time
from pathlib import Path
from typing import List

import numpy as np
import pytest

import quadcat

REPOSITORY = Path(__file__).resolve().parents[2]


def pytest_report_header(config):
    try:
        return f"quadcat binary: {quadcat.binary()} ({quadcat.binary_origin()}); package {Path(quadcat.__file__).parent}"
    except quadcat.QuadcatError as error:
        return f"quadcat binary: none ({error})"


def run_cli(*args, check=True) -> subprocess.CompletedProcess:
    """Runs the binary directly (not through the package), for cross-checks."""
    result = subprocess.run([quadcat.binary(), *map(str, args)], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if check and result.returncode != 0:
        raise AssertionError(f"quadcat {args[0]} failed: {result.stderr.decode()}")
    return result


class Demo:
    """`quadcat demo --dir DIR`: DIR/data holds the generated files, DIR/demo.quadcat the catalog with
    the five demo-* subsets."""

    rows = 2000
    learning_rates = [2.0e-5, 1.5e-5, 8.0e-6, 3.0e-6]

    def __init__(self, directory: Path):
        self.directory = directory
        self.data = directory / "data"
        self.catalog = quadcat.Catalog(directory / "demo.quadcat")

    def lines(self) -> List[bytes]:
        return (self.data / "corpus.jsonl").read_bytes().splitlines()


@pytest.fixture(scope="session")
def demo(tmp_path_factory) -> Demo:
    directory = tmp_path_factory.mktemp("demo") / "d"
    run_cli("demo", "--dir", directory, "--rows", Demo.rows)
    return Demo(directory)


@pytest.fixture
def small_corpus(tmp_path) -> Path:
    """300 JSONL documents with ids doc-0..doc-299, a domain field and unicode text."""
    path = tmp_path / "pool.jsonl"
    with open(path, "w", encoding="utf-8") as file:
        for i in range(300):
            file.write(json.dumps({"id": f"doc-{i}", "domain": f"d{i % 3}", "text": f"document {i} ✓ ünïcode"}) + "\n")
    return path


@pytest.fixture
def small_catalog(tmp_path, small_corpus) -> quadcat.Catalog:
    catalog = quadcat.Catalog(tmp_path / "small.quadcat").create()
    catalog.ingest(small_corpus, corpus="pool")
    return catalog


def gaussian(rows: int, dim: int, seed: int, dtype=np.float32) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((rows, dim)).astype(dtype)


def column(catalog: quadcat.Catalog, corpus: str, name: str, checkpoint: int = 0) -> quadcat.reports.ColumnInfo:
    for c in catalog.info().corpus(corpus).columns:
        if c.name == name and c.checkpoint == checkpoint:
            return c
    raise AssertionError(f"no column {name}@{checkpoint}")


@contextlib.contextmanager
def worker_killer(signals: Path, before_kill=lambda: None):
    """Kills, from the test's process, the Ray worker a retry test's hook parked: the hook (running in the
    worker) writes its pid to ``signals/pid`` and waits; a thread here waits for that file, runs
    ``before_kill`` (assertions on the half-done state), writes ``signals/killed`` (so the retried task
    goes on) and sends SIGKILL. Yields the list of killed pids, empty if no hook ever parked."""
    killed: List[int] = []

    def killer():
        for _ in range(600):
            if (signals / "pid").exists():
                pid = int((signals / "pid").read_text())
                before_kill()
                (signals / "killed").write_text("yes")
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)
                return
            time.sleep(0.1)

    thread = threading.Thread(target=killer)
    thread.start()
    try:
        yield killed
    finally:
        thread.join()
