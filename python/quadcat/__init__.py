"""quadcat for Python: the catalog for LLM training-data selection, where ML engineers work.

A thin client of the ``quadcat`` command-line tool (no second implementation of any selector or of the
file format): every :class:`Catalog` method runs one command with ``--json``; :class:`Subset` hands
results to NumPy, Hugging Face ``datasets`` and pandas; :class:`GradientWriter` and
:class:`quadcat.features.RademacherProjector` turn a PyTorch gradient loop into the files ``attach``
reads.

>>> import quadcat
>>> cat = quadcat.Catalog("demo.quadcat")
>>> gtp = cat.subset("demo-gtp")
>>> gtp.rows[:5], gtp.weights[:5]
>>> train = gtp.to_hf_dataset()

Which binary runs: :func:`binary` (and :func:`binary_origin`); ``QUADCAT_BIN`` overrides it.
Modules: :mod:`quadcat.reports` (the dataclasses), :mod:`quadcat.features` (projection),
:mod:`quadcat.gradients` (the writer), :mod:`quadcat.shards` (:class:`ShardSet`: one corpus over
several catalogs), :mod:`quadcat.ray` (shard-set selections with every step a Ray task) and
:mod:`quadcat.build` (a shard set built from a directory of shards, one task per shard).
"""
from ._binary import binary, binary_origin
from .catalog import Catalog
from .shards import Job, ShardSet
from .errors import QuadcatError
from .gradients import GradientWriter
from .subset import Subset
from . import features, reports

from ._version import version as _version_from_build

__version__ = _version_from_build()

__all__ = [
    "Catalog", "GradientWriter", "Job", "QuadcatError", "ShardSet", "Subset", "binary", "binary_origin", "features", "reports",
    "__version__",
]
