"""``python -m quadcat ARGS`` (and the ``quadcat`` command a pip install adds) run the quadcat binary
with ARGS, as ruff's ``python -m ruff`` does. ``python -m quadcat --which`` says which binary that is.
``python -m quadcat features ...`` and ``python -m quadcat warmup ...`` run :mod:`quadcat.features` (torch)."""
import os
import sys

from ._binary import binary, binary_origin
from .errors import QuadcatError


def main() -> None:
    if sys.argv[1:2] == ["features"]:
        from .features.cli import main as features
        sys.exit(features(sys.argv[2:]))
    if sys.argv[1:2] == ["warmup"]:
        from .features.cli import warmup_main
        sys.exit(warmup_main(sys.argv[2:]))
    try:
        executable = binary()
    except QuadcatError as error:
        print(f"quadcat: error: {error}", file=sys.stderr)
        sys.exit(error.status)
    if sys.argv[1:] == ["--which"]:
        print(f"{executable} ({binary_origin()})")
        return
    if sys.platform == "win32":  # pragma: no cover - quadcat builds on Linux and macOS
        import subprocess
        sys.exit(subprocess.run([executable, *sys.argv[1:]]).returncode)
    os.execv(executable, [executable, *sys.argv[1:]])


if __name__ == "__main__":
    main()
