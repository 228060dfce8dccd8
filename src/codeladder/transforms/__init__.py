"""Transforms: a model in, a model out, each through the one writer with lineage and ``report.json``:
``merge/`` and ``prune/`` (registries of methods), ``quantize.py`` (registry of schemes), ``adapter.py``
(merge-adapter)."""
