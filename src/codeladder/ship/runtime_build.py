"""Build (once) and cache the runtime of ``ladder compile``: one static Linux executable, ``ladder-runtime``.

Where it comes from: only from the package registries. The llama.cpp source is the one vendored in the
llama-cpp-python source package (``pip download --no-binary :all: --no-deps llama-cpp-python==V``, V the
installed llama-cpp-python, else :data:`DEFAULT_VERSION`); no registry package ships llamafile or a
ready single-file runtime. It is built with cmake and the system C++ compiler:

- statically (``GGML_STATIC``: ``-static``, no libstdc++/libgomp/libc needed at run time), no OpenSSL, no
  curl, no web UI assets (the prebuilt-UI download is switched off), no OpenMP (ggml's own thread pool);
- for any x86-64 CPU with AVX2/FMA/F16C (``GGML_NATIVE=OFF``, Haswell and later) unless ``native`` asks
  for the build machine's own instruction set (faster where AVX-512 is there, not portable);
- only the targets ``ladder-runtime`` links: llama, ggml, common, the server library, plus our
  ``runtime/main.cpp`` (the ``--prompt`` / interactive / ``--server`` front end).

One patch to llama.cpp (:data:`PATCH`, in ``ggml/src/gguf.cpp``): ``gguf_init_from_file`` seeks to
``gguf_embedded_offset`` before parsing when the path is ``gguf_embedded_path``. GGUF offsets are then
absolute within the executable, so llama.cpp reads (and mmaps) the appended model in place.

Cache (``$CODELADDER_CACHE``, default ``~/.cache/codeladder``): ``runtime/sdist/`` the source package,
``runtime/build-KEY/`` the patched tree and cmake build (incremental), ``runtime/ladder-runtime-KEY`` the
finished executable. KEY hashes the llama-cpp-python version, the cmake flags, the patch and our sources,
so a second ``ladder compile`` reuses the runtime in well under a second. The first build took 70 minutes
here (2 cores under load 8-15 from other jobs); ``CODELADDER_BUILD_JOBS`` sets the parallel jobs (default:
the CPU count).
Needs ``cmake`` and ``g++`` (``apt-get install -y cmake g++``).
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tarfile
import time
from collections.abc import Callable
from pathlib import Path

from codeladder.errors import LadderError

DEFAULT_VERSION = "0.3.36"
RUNTIME_SOURCES = Path(__file__).parent / "runtime"
TARGET = "ladder-runtime"
CMAKE_FLAGS = (
    "-DCMAKE_BUILD_TYPE=Release", "-DBUILD_SHARED_LIBS=OFF", "-DGGML_STATIC=ON", "-DGGML_OPENMP=OFF",
    "-DGGML_CCACHE=OFF", "-DLLAMA_BUILD_COMMON=ON", "-DLLAMA_BUILD_TOOLS=ON", "-DLLAMA_BUILD_SERVER=ON",
    "-DLLAMA_BUILD_TESTS=OFF", "-DLLAMA_BUILD_EXAMPLES=OFF", "-DLLAMA_BUILD_APP=OFF", "-DLLAMA_BUILD_UI=OFF",
    "-DLLAMA_USE_PREBUILT_UI=OFF", "-DLLAMA_OPENSSL=OFF", "-DLLAMA_TOOLS_INSTALL=OFF",
)
PORTABLE_FLAGS = ("-DGGML_NATIVE=OFF", "-DGGML_AVX=ON", "-DGGML_AVX2=ON", "-DGGML_FMA=ON", "-DGGML_F16C=ON",
                  "-DGGML_BMI2=ON")
NATIVE_FLAGS = ("-DGGML_NATIVE=ON",)

_ANCHOR_FN = "struct gguf_context * gguf_init_from_file(const char * fname, struct gguf_init_params params) {"
_ANCHOR_READ = "    struct gguf_context * result = gguf_init_from_file_ptr(file, params);"
_GLOBALS = ("// codeladder: a GGUF appended to an executable (ladder compile) is read in place from this offset\n"
            "extern \"C\" { const char * gguf_embedded_path = nullptr; uint64_t gguf_embedded_offset = 0; }\n\n")
_SEEK = ("    if (gguf_embedded_path != nullptr && strcmp(fname, gguf_embedded_path) == 0 &&\n"
         "            gguf_fseek(file, (int64_t) gguf_embedded_offset, SEEK_SET) != 0) {\n"
         "        fclose(file);\n"
         "        return nullptr;\n"
         "    }\n")
PATCH = _GLOBALS + _SEEK  # what the key hashes


def cache_root() -> Path:
    """``$CODELADDER_CACHE``, else ``~/.cache/codeladder``."""
    return Path(os.environ.get("CODELADDER_CACHE") or Path.home() / ".cache" / "codeladder").expanduser()


def llama_version() -> str:
    """The installed llama-cpp-python's version (its llama.cpp is what ``ladder run`` uses), else the pin."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("llama_cpp_python")
    except PackageNotFoundError:
        return DEFAULT_VERSION


def _flags(native: bool) -> tuple[str, ...]:
    return CMAKE_FLAGS + (NATIVE_FLAGS if native else PORTABLE_FLAGS)


def _digest(*parts: str | bytes) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(part.encode() if isinstance(part, str) else part)
        h.update(b"\0")
    return h.hexdigest()[:16]


def runtime_key(version: str, native: bool = False) -> tuple[str, str]:
    """(key of the llama.cpp build tree, key of the finished runtime)."""
    tree = _digest(version, *_flags(native), PATCH)
    sources = [p.read_bytes() for p in sorted(RUNTIME_SOURCES.iterdir()) if p.is_file()]
    return f"{version}-{tree}", _digest(tree, *sources)


def runtime_path(version: str | None = None, native: bool = False) -> Path:
    """Where the finished runtime for these settings lives (it may not exist yet)."""
    version = version or llama_version()
    return cache_root() / "runtime" / f"{TARGET}-{runtime_key(version, native)[1]}"


def require_tools() -> None:
    """One line naming what is missing: cmake, a C and a C++ compiler."""
    missing = [tool for tool, names in (("cmake", ("cmake",)), ("a C compiler", ("cc", "gcc", "clang")),
                                        ("a C++ compiler", ("c++", "g++", "clang++")))
               if not any(shutil.which(n) for n in names)]
    if missing:
        raise LadderError(f"ladder compile builds llama.cpp once and needs {', '.join(missing)}: "
                          "install them (Debian/Ubuntu: apt-get install -y cmake g++)")


def sdist(version: str, say: Callable[[str], None]) -> Path:
    """The llama-cpp-python source package, from the cache or ``pip download``."""
    folder = cache_root() / "runtime" / "sdist"
    found = sorted(folder.glob(f"llama_cpp_python-{version}.tar.gz"))
    if found:
        return found[0]
    folder.mkdir(parents=True, exist_ok=True)
    say(f"downloading the llama-cpp-python {version} source package with pip (the llama.cpp source)")
    cmd = [sys.executable, "-m", "pip", "download", "--no-binary", ":all:", "--no-deps", "--progress-bar", "off",
           f"llama-cpp-python=={version}", "-d", str(folder)]
    done = subprocess.run(cmd, capture_output=True, text=True)
    found = sorted(folder.glob(f"llama_cpp_python-{version}.tar.gz"))
    if done.returncode != 0 or not found:
        tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
        raise LadderError(f"could not get llama-cpp-python=={version}'s source package with pip ({tail[0]}); "
                          f"put llama_cpp_python-{version}.tar.gz in {folder} and rerun")
    return found[0]


def _extract_tree(archive: Path, dest: Path) -> None:
    """vendor/llama.cpp of the sdist into dest, patched (done once: the build tree keeps its timestamps)."""
    staging = dest.parent / f".{dest.name}.partial-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    with tarfile.open(archive) as tar:
        everything = tar.getmembers()
        prefix = (everything[0].name.split("/")[0] if everything else "") + "/vendor/llama.cpp/"
        members = [m for m in everything if m.name.startswith(prefix) and (m.isfile() or m.isdir())]
        if not members:
            raise LadderError(f"{archive}: no vendor/llama.cpp inside; not a llama-cpp-python source package")
        for m in members:
            m.name = m.name[len(prefix):]
        tar.extractall(staging, members=[m for m in members if m.name], filter="data")
    apply_patch(staging)
    staging.rename(dest)


def apply_patch(tree: Path) -> None:
    """Make ``gguf_init_from_file`` honour the embedded offset (see the module docstring)."""
    path = tree / "ggml" / "src" / "gguf.cpp"
    text = path.read_text()
    if "gguf_embedded_offset" in text:
        return
    if text.count(_ANCHOR_FN) != 1 or text.count(_ANCHOR_READ) != 1:
        raise LadderError(f"{path}: this llama.cpp's gguf_init_from_file changed; the in-place GGUF patch "
                          "no longer applies (pin llama-cpp-python to a known version, e.g. " + DEFAULT_VERSION + ")")
    text = text.replace(_ANCHOR_FN, _GLOBALS + _ANCHOR_FN).replace(_ANCHOR_READ, _SEEK + _ANCHOR_READ)
    path.write_text(text)


def _sync_sources(dest: Path) -> None:
    """Copy runtime/ beside the build, touching only files whose bytes changed (so make rebuilds no more)."""
    dest.mkdir(parents=True, exist_ok=True)
    for src in RUNTIME_SOURCES.iterdir():
        if src.is_file() and (not (dest / src.name).exists() or (dest / src.name).read_bytes() != src.read_bytes()):
            shutil.copyfile(src, dest / src.name)


def _children_cpu_s() -> float:
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _run_logged(cmd: list[str], log: Path, say: Callable[[str], None], what: str) -> None:
    """Run a build step, its output to ``log``; progress lines ("[ 42%]") shown as they rise."""
    started, shown = time.monotonic(), -1
    with open(log, "a") as out:
        out.write(f"$ {' '.join(cmd)}\n")
        out.flush()
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for line in proc.stdout:
            out.write(line)
            m = re.match(r"\[\s*(\d+)%\]", line)
            if m and int(m.group(1)) >= shown + 5:
                shown = int(m.group(1))
                say(f"{what}: {shown}% ({time.monotonic() - started:.0f} s)")
        proc.wait()
    if proc.returncode != 0:
        tail = [ln for ln in log.read_text().splitlines() if "error" in ln.lower()][-1:] or ["see the log"]
        raise LadderError(f"{what} failed ({tail[0].strip()}); full log: {log}")


def build_runtime(native: bool = False, say: Callable[[str], None] | None = None,
                  source: Path | None = None) -> Path:
    """The cached runtime executable, built first when missing. ``source``: a llama-cpp-python sdist to use
    instead of ``pip download``."""
    say = say or (lambda msg: print(msg, file=sys.stderr, flush=True))
    version = llama_version()
    tree_key, _ = runtime_key(version, native)
    final = runtime_path(version, native)
    if final.exists():
        return final
    require_tools()
    work = cache_root() / "runtime" / f"build-{tree_key}"
    work.mkdir(parents=True, exist_ok=True)
    with open(work / "lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # a second compile waits for the first build, then reuses it
        if final.exists():
            return final
        if not (work / "llama.cpp").is_dir():
            archive = source or sdist(version, say)
            say(f"unpacking llama.cpp from {archive.name}")
            _extract_tree(archive, work / "llama.cpp")
        _sync_sources(work / "wrapper")
        log, build = work / "build.log", work / "build"
        say(f"building the runtime (llama.cpp from llama-cpp-python {version}, "
            f"{'native' if native else 'portable AVX2'}): once per machine, up to an hour on 2 busy cores; log: {log}")
        if not (build / "CMakeCache.txt").exists():
            _run_logged(["cmake", "-S", str(work / "wrapper"), "-B", str(build),
                         f"-DLLAMA_SOURCE_DIR={work / 'llama.cpp'}", *_flags(native)], log, say, "cmake configure")
        jobs = os.environ.get("CODELADDER_BUILD_JOBS") or str(os.cpu_count() or 2)
        wall, cpu = time.monotonic(), _children_cpu_s()
        _run_logged(["cmake", "--build", str(build), "--target", TARGET, "-j", jobs],
                    log, say, "cmake build")
        say(f"built in {(time.monotonic() - wall) / 60:.1f} min ({(_children_cpu_s() - cpu) / 60:.1f} CPU-min)")
        built = build / TARGET
        staged = final.parent / f".{final.name}.partial-{os.getpid()}"
        shutil.copyfile(built, staged)
        subprocess.run(["strip", str(staged)], check=False, capture_output=True)
        staged.chmod(0o755)
        staged.rename(final)
    say(f"runtime cached: {final} ({final.stat().st_size / 1e6:.1f} MB)")
    return final


__all__ = ["DEFAULT_VERSION", "build_runtime", "cache_root", "llama_version", "require_tools", "runtime_key",
           "runtime_path"]
