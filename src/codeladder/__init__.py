"""codeladder: take open code LLMs up the code-generation leaderboards, and prove every step."""

import logging as _logging

__version__ = "0.1.0"

# bitsandbytes warns at import on AVX512-BF16 CPUs that an optional hub-downloaded kernel is missing;
# codeladder never downloads kernels, so the line is noise on every command that imports peft.
_logging.getLogger("bitsandbytes.backends.cpu.ops").setLevel(_logging.ERROR)
