"""Run analysis: finished run folders in, JSON-ready dicts out (oracle, failures, compare, history).

Loading is in :mod:`codeladder.analysis.load`; nothing here imports torch or a backend, so analysing and
reporting start fast and work on a machine that only holds run folders.
"""

from codeladder.analysis.compare import CompareParams, compare, compare_runs
from codeladder.analysis.failures import FailuresParams, failures, failures_of
from codeladder.analysis.history import HistoryParams, history, history_of
from codeladder.analysis.load import Run, TaskScore, load_run, load_runs
from codeladder.analysis.oracle import OracleParams, oracle, oracle_of

__all__ = ["CompareParams", "compare", "compare_runs", "FailuresParams", "failures", "failures_of", "HistoryParams",
           "history", "history_of", "Run", "TaskScore", "load_run", "load_runs", "OracleParams", "oracle", "oracle_of"]
