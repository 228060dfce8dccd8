"""Export speed and peak memory: a random-init model of Qwen2.5-Coder-0.5B's shape to GGUF F16, Q8_0, Q4_K.

Each export runs in its own process so its peak RSS is its own. The peer is llama.cpp's
``convert_hf_to_gguf.py`` (+ ``llama_model_quantize`` for Q4_K), from the llama-cpp-python source
package, run on the same folder in the same run where it can run at all (pass --peer-script).
Usage: ``python benchmarks/quantize_speed.py [--model DIR] [--peer-script PATH/convert_hf_to_gguf.py]``
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

CHILD = """
import json, resource, sys, time
from codeladder.transforms.quantize import quantize
started = time.perf_counter()
report = quantize(sys.argv[1], sys.argv[2], sys.argv[3])
report["seconds"] = time.perf_counter() - started
report["peak_rss_bytes"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps(report))
"""

PEER = """
import resource, runpy, sys, time
started = time.perf_counter()
sys.path.insert(0, __import__("os").path.dirname(sys.argv[1]))
sys.argv = [sys.argv[1], sys.argv[2], "--outtype", sys.argv[3], "--outfile", sys.argv[4]]
try:
    runpy.run_path(sys.argv[0], run_name="__main__")
except SystemExit:
    pass
print("PEER", time.perf_counter() - started, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)
"""


def build_model(path: Path) -> Path:
    from codeladder.models.tiny import TinySpec, build_tiny_model

    if not (path / "config.json").exists():
        build_tiny_model(path, TinySpec(hidden=896, layers=24, heads=14, kv_heads=2, intermediate=4864,
                                        pad_vocab_to=151936, dtype="bfloat16", tie_embeddings=True))
    return path


def run_peer(script: Path, model: Path, outtype: str, out: Path) -> tuple[float, int] | str:
    done = subprocess.run([sys.executable, "-c", PEER, str(script), str(model), outtype, str(out)],
                          capture_output=True, text=True)
    line = [text for text in done.stdout.splitlines() if text.startswith("PEER")]
    if not out.exists() or not line:
        reason = [text for text in done.stderr.splitlines() if "Error" in text or "error" in text]
        return reason[-1].strip() if reason else "failed"
    _, seconds, rss = line[0].split()
    return float(seconds), int(rss)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", type=Path, default=Path(tempfile.gettempdir()) / "codeladder-qwen2.5-0.5b-shape")
    parser.add_argument("--peer-script", type=Path, default=None)
    args = parser.parse_args()
    model = build_model(args.model)
    size = sum(p.stat().st_size for p in model.glob("*.safetensors"))
    print(f"model: {model} ({size / 1e6:.0f} MB bf16 safetensors)")
    with tempfile.TemporaryDirectory() as tmp:
        for kind in ("f16", "q8_0", "q4_k"):
            out = Path(tmp) / f"ours-{kind}.gguf"
            done = subprocess.run([sys.executable, "-c", CHILD, str(model), kind, str(out)], capture_output=True,
                                  text=True, check=True)
            report = json.loads(done.stdout.strip().splitlines()[-1])
            line = (f"codeladder {kind:5s}: {report['seconds']:6.1f} s, peak RSS {report['peak_rss_bytes'] / 1e9:.2f} GB, "
                    f"file {report['bytes'] / 1e6:.0f} MB = {report['size_vs_fp16']:.3f} x FP16 "
                    f"({report['bits_per_weight']:.2f} bits/weight)")
            if args.peer_script and kind in ("f16", "q8_0"):
                peer = run_peer(args.peer_script, model, kind, Path(tmp) / f"peer-{kind}.gguf")
                if isinstance(peer, str):
                    line += f" | convert_hf_to_gguf.py: not runnable here ({peer[:120]})"
                else:
                    line += (f" | convert_hf_to_gguf.py: {peer[0]:.1f} s, {peer[1] / 1e9:.2f} GB "
                             f"(ratio {report['seconds'] / peer[0]:.2f}x time)")
            print(line)
            out.unlink()


if __name__ == "__main__":
    main()
