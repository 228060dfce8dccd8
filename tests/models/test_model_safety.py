"""Nothing of the user's is lost by a verb that writes a model, and a broken input is one line.

Real tiny models and real files throughout; the kill -9 tests kill a real ``ladder`` process at
exact points (``CODELADDER_CRASH_AT``) and then run ``ladder check`` and the same command again.
"""

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys

import pytest

from codeladder.errors import LadderError
from codeladder.measure.check import check_model
from codeladder.models.gguf_export import export_gguf
from codeladder.models.io import convert_folder, import_model
from codeladder.models.output import begin_output, partial_path
from codeladder.transforms.quantize import quantize
from codeladder.models.tiny import TinySpec, build_tiny_model
from codeladder.transforms.adapter import merge_adapter
from codeladder.transforms.merge import merge_models
from codeladder.transforms.prune import prune_model
from conftest import REPO


def snapshot(path):
    """Every file under ``path`` (or the file itself) with its sha256."""
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    return {str(p): hashlib.sha256(p.read_bytes()).hexdigest() for p in files}


def leftovers(out):
    return sorted(p.name for p in out.parent.iterdir() if p.name.startswith(f".{out.name}."))


@pytest.fixture(scope="module")
def second(tmp_path_factory):
    return build_tiny_model(tmp_path_factory.mktemp("second") / "m", TinySpec(seed=2))


@pytest.fixture(scope="module")
def adapter(tiny_model, tmp_path_factory):
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    folder = tmp_path_factory.mktemp("adapter") / "lora"
    peft_model = get_peft_model(AutoModelForCausalLM.from_pretrained(tiny_model),
                                LoraConfig(r=2, lora_alpha=4, target_modules=["q_proj"]))
    peft_model.save_pretrained(folder)
    return folder


@pytest.fixture
def model(tiny_model, tmp_path):
    """A private copy of the tiny model that a test may try to destroy."""
    return shutil.copytree(tiny_model, tmp_path / "model")


def test_an_input_used_as_the_output_is_refused_before_anything_is_touched(model, second, adapter, tmp_path):
    before = snapshot(model)
    attempts = {
        "merge": lambda: merge_models([model, second], "linear", model),
        "merge into the second input": lambda: merge_models([second, model], "linear", model),
        "import": lambda: import_model(str(model), model),
        "export": lambda: convert_folder(model, model, stage="export"),
        "merge-adapter": lambda: merge_adapter(model, adapter, model),
        "merge-adapter into the adapter": lambda: merge_adapter(model, adapter, adapter),
        "prune": lambda: prune_model(model, model, method="magnitude"),
        "quantize": lambda: quantize(model, "nf4", model),
        "gguf inside the input": lambda: export_gguf(model, model / "model.gguf", "f16"),
        "output inside the input": lambda: merge_models([model, second], "linear", model / "merged"),
        "input inside the output": lambda: convert_folder(model, tmp_path),
    }
    for label, attempt in attempts.items():
        with pytest.raises(LadderError, match="input") as caught:
            attempt()
        assert "\n" not in str(caught.value), label
        assert snapshot(model) == before, label
        assert not leftovers(model), label
    assert check_model(model).ok


def test_outputs_that_are_not_ours_are_refused_and_kept(model, tmp_path):
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "todo.txt").write_text("mine")
    a_file = tmp_path / "a.txt"
    a_file.write_text("mine")
    refused = {
        "not a model folder codeladder wrote": lambda: convert_folder(model, notes),
        "is not a folder": lambda: convert_folder(model, a_file),
        "is not a GGUF file": lambda: export_gguf(model, a_file, "f16"),
        "is a folder": lambda: export_gguf(model, notes, "f16"),
        "cannot write there": lambda: convert_folder(model, a_file / "out"),
    }
    for expected, attempt in refused.items():
        with pytest.raises(LadderError, match=expected):
            attempt()
    assert (notes / "todo.txt").read_text() == "mine" and sorted(os.listdir(notes)) == ["todo.txt"]
    assert a_file.read_text() == "mine"
    with pytest.raises(LadderError, match="cannot write there"):
        convert_folder(model, "/sys/codeladder-read-only-test")
    ours = convert_folder(model, tmp_path / "ours")
    (ours / "extra.txt").write_text("replaced with the folder")
    assert convert_folder(model, ours, dtype="bfloat16") == ours  # a folder we wrote is replaced whole
    assert not (ours / "extra.txt").exists() and check_model(ours).ok and not leftovers(ours)


def _ladder_killed_at(point, *args):
    env = {**os.environ, "CODELADDER_CRASH_AT": point, "COLUMNS": "200"}
    done = subprocess.run([sys.executable, "-m", "codeladder.cli.main", *args], capture_output=True, text=True,
                          env=env, cwd=REPO, timeout=600)
    assert done.returncode == -signal.SIGKILL, (point, done.returncode, done.stderr[-2000:])


def _merge_method(out):
    return json.loads((out / "ladder.json").read_text())["stages"][-1]["params"]["method"]


def test_kill_9_while_replacing_a_merged_model_leaves_a_complete_model(tiny_model, second, tmp_path):
    from conftest import ladder

    out = tmp_path / "merged"
    merge_models([tiny_model, second], "linear", out)
    args = ["merge", str(tiny_model), str(second), "--method", "slerp", "--t", "0.3", "-o", str(out)]
    for point, left in (("mid-shard", True), ("after-shards", True), ("before-publish", True),
                        ("after-exchange", True)):
        _ladder_killed_at(point, *args)
        assert bool(leftovers(out)) == left, (point, leftovers(out))  # killed in the middle: the hook really fired
        report = check_model(out)
        assert report.ok, (point, report.as_dict())
        expected = "slerp" if point == "after-exchange" else "linear"
        assert _merge_method(out) == expected, point
    ladder(*args)
    assert _merge_method(out) == "slerp" and check_model(out).ok
    assert not leftovers(out)
    assert json.loads((out / "merge_report.json").read_text())["method"] == "slerp"


def test_a_model_moved_aside_by_a_killed_swap_is_put_back(model, tmp_path):
    out = convert_folder(model, tmp_path / "out")
    dead = 10 ** 7  # above any pid_max: no such process
    os.rename(out, out.parent / f".{out.name}.replaced-{dead}")
    (out.parent / f".{out.name}.partial-{dead}").mkdir()
    stage = begin_output(out, [model], kind="folder")
    assert stage == partial_path(out) and check_model(out).ok
    assert leftovers(out) == [stage.name]
    stage.rmdir()


def test_kill_9_during_gguf_export_keeps_the_old_file_and_cleans_up(tiny_model, tmp_path):
    from conftest import ladder

    out = tmp_path / "model.gguf"
    export_gguf(tiny_model, out, "f16")
    old = snapshot(out)
    _ladder_killed_at("mid-gguf", "export", str(tiny_model), "--type", "q8_0", "-o", str(out))
    assert snapshot(out) == old and leftovers(out)  # the half-written file is beside it, not on it
    _ladder_killed_at("after-llama-quantize", "export", str(tiny_model), "--type", "q4_k", "-o", str(out))
    assert snapshot(out) == old
    assert any(name.endswith(".work") for name in leftovers(out))  # llama.cpp's scratch files
    done = ladder("export", str(tiny_model), "--type", "q4_k", "-o", str(out))
    assert not leftovers(out) and snapshot(out) != old
    foreign = [line for line in (done.stdout + done.stderr).splitlines()
               if line.strip() and not line.startswith(("wrote ", "  fallback: ", "exporting tensors "))]
    assert not foreign, foreign  # llama.cpp's ~90 log lines only with --verbose
    verbose = ladder("export", str(tiny_model), "--type", "q4_k", "-o", str(out), "--verbose")
    assert "llama_model_loader" in verbose.stdout + verbose.stderr
    back = tmp_path / "back"
    import_model(str(out), back)
    assert check_model(back).ok


def _edit_config(folder, **changes):
    config = json.loads((folder / "config.json").read_text())
    config.update(changes)
    (folder / "config.json").write_text(json.dumps(config))


def _drop_tensor(folder, name="model.norm.weight"):
    from safetensors.torch import load_file, save_file

    tensors = load_file(str(folder / "model.safetensors"))
    del tensors[name]
    save_file(tensors, str(folder / "model.safetensors"))


def _truncate(path, size):
    with open(path, "r+b") as f:
        f.truncate(size)


def _no_tokenizer(folder):
    from codeladder.models.checkpoint import TOKENIZER_FILES

    for name in TOKENIZER_FILES:
        (folder / name).unlink(missing_ok=True)


BREAKAGES = {
    "no config.json": (lambda f: (f / "config.json").unlink(), "no config.json"),
    "config.json not JSON": (lambda f: (f / "config.json").write_text("{"), "config.json: not valid JSON"),
    "another architecture": (lambda f: _edit_config(f, model_type="gpt2"), "model_type 'gpt2' is not supported"),
    "inconsistent architectures": (lambda f: _edit_config(f, architectures=["LlamaForCausalLM"]), "do not match"),
    "config says llama": (lambda f: _edit_config(f, model_type="llama", architectures=["LlamaForCausalLM"]),
                          "unexpected"),
    "mistyped field": (lambda f: _edit_config(f, hidden_size="64"), "hidden_size = '64'"),
    "layer count against the config": (lambda f: _edit_config(f, num_hidden_layers=3), "num_hidden_layers"),
    "more layers": (lambda f: _edit_config(f, num_hidden_layers=3, layer_types=["full_attention"] * 3), "missing"),
    "fewer layers": (lambda f: _edit_config(f, num_hidden_layers=1, layer_types=["full_attention"]), "unexpected"),
    "wrong shapes": (lambda f: _edit_config(f, intermediate_size=100), "wrong shape"),
    "missing tensor": (_drop_tensor, r"missing 1 tensor\(s\), e.g. \['model.norm.weight'\]"),
    "zero-byte weights": (lambda f: _truncate(f / "model.safetensors", 0), "not a safetensors file"),
    "truncated weights": (lambda f: _truncate(f / "model.safetensors", 50_000), "truncated"),
    "garbage weights": (lambda f: (f / "model.safetensors").write_bytes(b"garbage!" * 64), "not a safetensors"),
    "no tokenizer": (_no_tokenizer, "no tokenizer"),
    "tokenizer.json not JSON": (lambda f: (f / "tokenizer.json").write_text("nope"), "tokenizer.json: not valid"),
    "tokenizer of another model": (lambda f: _edit_config(f, vocab_size=100), "does not fit the embedding"),
    "index names a missing shard": (lambda f: (f / "model.safetensors.index.json").write_text(
        json.dumps({"weight_map": {"model.norm.weight": "model-00002-of-00002.safetensors"}})), "missing"),
}


@pytest.mark.parametrize("breakage", list(BREAKAGES))
def test_a_broken_model_folder_is_one_line_before_any_load(tiny_model, tmp_path, breakage):
    from codeladder.models.integrity import require_model_folder

    broken = shutil.copytree(tiny_model, tmp_path / "broken")
    damage, expected = BREAKAGES[breakage]
    damage(broken)
    with pytest.raises(LadderError, match=expected) as caught:
        require_model_folder(broken)
    assert "\n" not in str(caught.value)
    assert not check_model(broken).ok


def test_every_loader_refuses_missing_tensors_instead_of_random_weights(tiny_model, tmp_path):
    from codeladder.backends import open_engine
    from codeladder.measure.parity import compare_models
    from codeladder.measure.perplexity import perplexity

    broken = shutil.copytree(tiny_model, tmp_path / "broken")
    _drop_tensor(broken, "model.layers.1.mlp.down_proj.weight")
    for load in (lambda: open_engine(broken, device="cpu"),
                 lambda: open_engine(tiny_model, device="cpu", draft=str(broken)),
                 lambda: compare_models(str(broken), str(tiny_model)), lambda: perplexity(broken, "def f(): pass")):
        with pytest.raises(LadderError, match="down_proj"):
            load()
    stages = {s.name: s for s in check_model(broken).stages}
    assert not stages["tensors"].ok and "down_proj" in stages["tensors"].detail


def test_tiny_writes_through_the_writer_with_lineage_and_normal_modes(tiny_model):
    lineage = json.loads((tiny_model / "ladder.json").read_text())
    assert lineage["source"] == "ladder tiny" and lineage["stages"][0]["stage"] == "tiny"
    assert lineage["stages"][0]["params"]["seed"] == 1
    umask = os.umask(0)
    os.umask(umask)
    for path in tiny_model.iterdir():
        assert path.stat().st_mode & 0o777 == 0o666 & ~umask, path.name


@pytest.mark.parametrize("spec, flag", [(dict(layers=0), "--layers"), (dict(hidden=0), "--hidden"),
                                        (dict(vocab=10), "--vocab"), (dict(heads=3), "--heads"),
                                        (dict(kv_heads=-1), "--kv-heads"), (dict(dtype="int8"), "--dtype")])
def test_tiny_sizes_out_of_range_are_refused(tmp_path, spec, flag):
    with pytest.raises(LadderError, match=flag):
        build_tiny_model(tmp_path / "t", TinySpec(**spec))
    assert not (tmp_path / "t").exists()


def run_cli(capsys, *args):
    """``ladder ARGS`` in this process, through main() as a user runs it: (exit code, stdout, stderr)."""
    from codeladder.cli.main import main

    saved, sys.argv = sys.argv, ["ladder", *map(str, args)]
    try:
        main()
        code = 0
    except SystemExit as exc:
        code = exc.code
    finally:
        sys.argv = saved
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def bad_inputs(tiny_model, adapter, tmp_path_factory):
    root = tmp_path_factory.mktemp("bad")
    broken = shutil.copytree(tiny_model, root / "broken")
    _drop_tensor(broken)
    (root / "file.txt").write_text("not a model")
    (root / "garbage.gguf").write_bytes(b"GGUF" + b"\xff" * 64)
    (root / "empty.jsonl").write_text("")
    (root / "empty.txt").write_text("")
    (root / "notes").mkdir()
    (root / "notes" / "todo.txt").write_text("mine")
    shutil.copytree(adapter, root / "lora")
    for name, config in (("bad-json", "{"), ("rank-0", json.dumps({"peft_type": "LORA", "r": 0, "lora_alpha": 4}))):
        shutil.copytree(adapter, root / name)
        (root / name / "adapter_config.json").write_text(config)
    return root


def cases(model, second, root):
    out = root / "out"
    return {
        "tiny": [(["tiny", root / "notes"], "not a model folder codeladder wrote"),
                 (["tiny", root / "file.txt"], "is not a folder"), (["tiny", out, "--layers", "0"], "--layers 0")],
        "import": [(["import", root / "broken", "-o", out], "missing"),
                   (["import", root / "garbage.gguf", "-o", out], "garbage.gguf"),
                   (["import", model, "-o", out, "--dtype", "float8"], "--dtype float8")],
        "check": [(["check", root / "file.txt"], "file.txt"), (["check", root / "nope"], "nope")],
        "export": [(["export", root / "broken", "-o", root / "m.gguf"], "missing"),
                   (["export", model, "-o", root / "file.txt"], "not a GGUF file"),
                   (["export", model, "--type", "q3", "-o", root / "m.gguf"], "--type q3")],
        "quantize": [(["quantize", root / "broken", "--scheme", "nf4", "-o", out], "missing"),
                     (["quantize", model, "--scheme", "nf4", "-o", out, "--text", root / "empty.txt"], "--text"),
                     (["quantize", model, "--scheme", "q3", "-o", out], "--scheme q3")],
        "merge": [(["merge", root / "broken", model, "--method", "linear", "-o", out], "missing"),
                  (["merge", model, second, "--method", "linear", "-o", out, "--tokenizer-source", root / "file.txt"],
                   "--tokenizer-source"),
                  (["merge", model, second, "--method", "ties", "--base", model, "--density", "2", "-o", out],
                   "--density 2")],
        "merge-adapter": [(["merge-adapter", root / "broken", root / "lora", "-o", out], "missing"),
                          (["merge-adapter", model, root / "bad-json", "-o", out], "adapter_config.json: not valid"),
                          (["merge-adapter", model, root / "rank-0", "-o", out], "r = 0")],
        "prune": [(["prune", root / "broken", "-o", out], "missing"),
                  (["prune", model, "-o", out, "--calibration", root / "empty.jsonl"], "no rows"),
                  (["prune", model, "-o", out, "--sparsity", "1.5"], "--sparsity 1.5"),
                  (["prune", model, "-o", out, "--samples", "0"], "--samples 0")],
    }


@pytest.mark.parametrize("verb", ["tiny", "import", "check", "export", "quantize", "merge", "merge-adapter", "prune"])
def test_each_verb_answers_bad_input_with_one_error_line(tiny_model, second, bad_inputs, capsys, verb):
    for args, expected in cases(tiny_model, second, bad_inputs)[verb]:
        code, out, err = run_cli(capsys, *args)
        lines = err.strip().splitlines()
        assert code == 2 and len(lines) == 1 and lines[0].startswith("error:"), (args, code, out, err)
        assert expected in lines[0] and "Traceback" not in err, (args, lines)
        assert not (bad_inputs / "out").exists() and (bad_inputs / "notes" / "todo.txt").read_text() == "mine"
    code, out, _ = run_cli(capsys, "check", bad_inputs / "broken", "--json")
    assert code == 1 and [s["name"] for s in json.loads(out)["stages"] if not s["ok"]] == ["tensors"]
