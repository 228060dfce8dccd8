"""Is the installed llama.cpp safe on this CPU? A probe in a child process, cached per library build and CPU.

Why: llama-cpp-python built from source with ``GGML_NATIVE`` on an Intel Xeon with AMX (Sapphire Rapids class)
compiles ggml's AMX kernels in, and with the library's defaults (extra buffer types on) the first matrix product
of a Q4_0/Q8_0/Q4_K model dies with SIGILL (``ggml_backend_amx_mul_mat``). That kills the process, not a call:
no Python error can be caught. So before the first quantized product the ``llamacpp`` backend runs the library
with its own defaults on a tiny Q8_0/Q4_0 model in a child process; a child killed by a signal means this
build crashes here, and the backend stops with one line naming the cause and the command that rebuilds it.

The probe model is written here with ``gguf`` (one llama block, hidden 256, a byte-level SPM vocabulary of 259
tokens; nothing to download, under 1 MB). The decision is cached in ``$CODELADDER_CACHE/llamacpp-probe.json``
under the sha256 of ``libggml-cpu.so`` and the CPU's model name and flags, so it costs one child start per
library build and machine. ``CODELADDER_PROBE_CRASH=1`` makes the child kill itself with SIGILL (the tests use it
to exercise the refusal on machines whose build is sound).
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

from codeladder.errors import LadderError

# tools/llama-cmake-args on x86 (the only CPUs with AMX): the GGML_AMX_* options alone leave a native build's kernels in
NO_AMX = "-mno-amx-tile -mno-amx-int8 -mno-amx-bf16"
REBUILD = (f'CMAKE_ARGS="-DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF -DCMAKE_C_FLAGS=\'{NO_AMX}\' '
           f'-DCMAKE_CXX_FLAGS=\'{NO_AMX}\'" pip install --no-cache-dir --force-reinstall --no-deps '
           'llama-cpp-python=={version}')
_CHILD = """
import os, signal, sys
if os.environ.get("CODELADDER_PROBE_CRASH") == "1":
    os.kill(os.getpid(), signal.SIGILL)
from llama_cpp import Llama
model = Llama(sys.argv[1], n_ctx=64, n_threads=2, verbose=False)
model.eval([1, 70, 80, 90, 100, 110, 120, 130])
print("probe-ok", flush=True)
"""


def _library() -> Path | None:
    try:
        import llama_cpp
    except ImportError:
        return None
    found = sorted(Path(llama_cpp.__file__).parent.glob("lib/libggml-cpu.so*"))
    return found[0] if found else None


def _cpu() -> str:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return "unknown"
    lines = [line for line in text.splitlines() if line.startswith(("model name", "flags"))]
    return "\n".join(sorted(set(lines)))


def probe_key() -> str | None:
    """sha256 of the library build and the CPU: the probe's decision holds while both stay the same."""
    library = _library()
    if library is None:
        return None
    from codeladder.models.lineage import file_sha256

    hook = os.environ.get("CODELADDER_PROBE_CRASH", "")  # the test hook's decision is cached apart
    return hashlib.sha256(f"{file_sha256(library.resolve())}\n{_cpu()}\n{hook}".encode()).hexdigest()[:24]


def _cache() -> Path:
    return Path(os.environ.get("CODELADDER_CACHE", Path.home() / ".cache" / "codeladder")) / "llamacpp-probe.json"


def write_probe_model(path: Path) -> Path:
    """A one-block llama model with Q8_0 and Q4_0 weights: what the crashing kernels are first asked to multiply."""
    import gguf
    import numpy as np

    hidden, ff, vocab = 256, 512, 259
    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_context_length(64)
    writer.add_embedding_length(hidden)
    writer.add_block_count(1)
    writer.add_feed_forward_length(ff)
    writer.add_head_count(2)
    writer.add_head_count_kv(2)
    writer.add_rope_dimension_count(hidden // 2)
    writer.add_layer_norm_rms_eps(1e-5)
    writer.add_tokenizer_model("llama")
    tokens = ["<unk>", "<s>", "</s>", *(f"<0x{i:02X}>" for i in range(256))]
    writer.add_token_list(tokens)
    writer.add_token_scores([0.0] * vocab)
    writer.add_token_types([2, 3, 3, *([6] * 256)])  # unknown, control x2, byte
    writer.add_bos_token_id(1)
    writer.add_eos_token_id(2)
    rng = np.random.default_rng(0)

    def add(name: str, rows: int, cols: int, kind) -> None:
        data = (rng.standard_normal((rows, cols)) * 0.02).astype(np.float32)
        writer.add_tensor(name, gguf.quants.quantize(data, kind), raw_dtype=kind)

    q8, q4 = gguf.GGMLQuantizationType.Q8_0, gguf.GGMLQuantizationType.Q4_0
    add("token_embd.weight", vocab, hidden, q8)
    add("output.weight", vocab, hidden, q8)
    for name, kind in (("attn_q", q8), ("attn_k", q4), ("attn_v", q8), ("attn_output", q4)):
        add(f"blk.0.{name}.weight", hidden, hidden, kind)
    add("blk.0.ffn_gate.weight", ff, hidden, q8)
    add("blk.0.ffn_up.weight", ff, hidden, q4)
    add("blk.0.ffn_down.weight", hidden, ff, q8)
    for name in ("output_norm", "blk.0.attn_norm", "blk.0.ffn_norm"):
        writer.add_tensor(f"{name}.weight", np.ones(hidden, dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def run_probe() -> dict:
    """Run the library with its own defaults on the probe model in a child; ``{"ok", "detail"}``."""
    with tempfile.TemporaryDirectory(prefix="ladder-probe-") as tmp:
        model = write_probe_model(Path(tmp) / "probe-q8_0.gguf")
        try:
            done = subprocess.run([sys.executable, "-c", _CHILD, str(model)], capture_output=True, text=True,
                                  timeout=300)
        except subprocess.TimeoutExpired:
            return {"ok": False, "detail": "the probe did not finish in 300 s"}
    if done.returncode < 0:
        name = signal.Signals(-done.returncode).name
        return {"ok": False, "detail": f"a quantized matrix product killed the process with {name}"}
    if done.returncode != 0 or "probe-ok" not in done.stdout:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1][:200]
        return {"ok": False, "detail": f"the probe failed (exit {done.returncode}: {last})"}
    return {"ok": True, "detail": "Q8_0/Q4_0 products with the library's defaults (extra buffer types on)"}


def probe(refresh: bool = False) -> dict:
    """The cached decision for this library build and CPU, probing first when there is none."""
    key = probe_key()
    if key is None:
        return {"ok": True, "detail": "llama-cpp-python is not installed", "key": None}
    path = _cache()
    try:
        cache = json.loads(path.read_text())
    except (OSError, ValueError):
        cache = {}
    if refresh or key not in cache:
        cache[key] = run_probe()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            temporary = path.with_name(f".{path.name}.{os.getpid()}")
            temporary.write_text(json.dumps(cache, indent=2))
            os.replace(temporary, path)
        except OSError:
            pass  # a read-only home: probe again next time
    return {**cache[key], "key": key}


def require_safe_library() -> None:
    """Stop, in one line, when the installed llama.cpp crashes on quantized models on this CPU."""
    found = probe()
    if found["ok"]:
        return
    import llama_cpp

    raise LadderError(f"the installed llama-cpp-python {llama_cpp.__version__} crashes on this CPU ({found['detail']}"
                      "; typically its AMX kernels, compiled in by a native build on an AMX Xeon); rebuild it: "
                      + REBUILD.format(version=llama_cpp.__version__))


__all__ = ["probe", "probe_key", "run_probe", "require_safe_library", "write_probe_model", "REBUILD"]
