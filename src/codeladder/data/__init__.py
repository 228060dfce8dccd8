"""Training data: preference pairs from a run (``pairs``), decontamination against the bundled benchmarks
(``decontaminate``, over ``tokens``, ``index`` and ``detect``), and quality checks (``quality``).

numpy and datasketch (the ``data`` extra) are imported only when a verb runs, so ``ladder --help`` stays fast.
"""

from __future__ import annotations

from codeladder.errors import LadderError


def require_datasketch(verb: str) -> None:
    """One clear line when the ``data`` extra is missing, instead of an ImportError deep inside."""
    try:
        import datasketch  # noqa: F401
        import numpy  # noqa: F401
    except ImportError:
        raise LadderError(f"ladder {verb} needs datasketch: pip install 'codeladder[data]'") from None


__all__ = ["require_datasketch"]
