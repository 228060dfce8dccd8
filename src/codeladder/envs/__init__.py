"""Evaluation environments: a benchmark's test-time libraries in a venv of their own (``ladder env create``),
whose interpreter runs the sandbox workers for that benchmark (``ladder eval``, automatically or ``--env DIR``).

:mod:`~codeladder.envs.specs` says what each environment holds (requirement lists carried as package data, with
their source), :mod:`~codeladder.envs.store` where environments live and what they record, and
:mod:`~codeladder.envs.manage` makes, lists and checks them.
"""

from codeladder.envs.store import Environment, envs_root, resolve

__all__ = ["Environment", "envs_root", "resolve"]
