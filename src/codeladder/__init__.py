"""codeladder: take open code LLMs up the code-generation leaderboards, and prove every step."""

__version__ = "0.1.0"


def quiet_library_noise() -> None:
    """bitsandbytes warns at import on AVX512-BF16 CPUs that an optional hub-downloaded kernel is missing;
    codeladder never downloads kernels, so the line is noise on every command that imports peft. Called by
    the CLI and the modules that import peft, not here: ``logging`` imports ``threading``, whose at-fork
    handlers would run Python in every sample the sandbox forks (measured: 3x the cost of a bare fork)."""
    import logging

    logging.getLogger("bitsandbytes.backends.cpu.ops").setLevel(logging.ERROR)
