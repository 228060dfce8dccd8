"""Every output has lineage and a report: GGUF files through a sidecar, folders through ladder.json and
report.json; ``lineage_fingerprint`` joins a result to the model it measured."""

import json
import shutil

import pytest

from codeladder.models.gguf_export import export_gguf
from codeladder.models.io import convert_folder, import_model
from codeladder.models.lineage import lineage_fingerprint, read_sidecar, sidecar_path


def test_gguf_export_writes_a_sidecar_whose_lineage_names_the_source_folder(tiny_model, tmp_path):
    bare = shutil.copytree(tiny_model, tmp_path / "bare")
    (bare / "ladder.json").unlink()  # no lineage yet: the folder itself is the source
    out = tmp_path / "m.gguf"
    report = export_gguf(bare, out, "q8_0")
    sidecar = json.loads(sidecar_path(out).read_text())
    assert sidecar["lineage"]["source"] == str(bare)
    stage = sidecar["lineage"]["stages"][-1]
    assert stage["stage"] == "export" and stage["params"]["type"] == "q8_0"
    assert stage["inputs"][0]["path"] == str(bare) and stage["inputs"][0]["files"]["model.safetensors"]
    assert sidecar["report"]["type"] == "q8_0" and sidecar["report"]["bytes"] == report.bytes == out.stat().st_size
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # nothing staged left over


def test_a_gguf_continues_the_lineage_and_import_continues_it_again(tiny_model, tmp_path):
    out = tmp_path / "m.gguf"
    export_gguf(tiny_model, out, "f16")
    found = lineage_fingerprint(out)
    assert found["kind"] == "gguf" and found["source"] == "ladder tiny" and found["stages"] == ["tiny", "export"]
    back = import_model(str(out), tmp_path / "back")
    assert lineage_fingerprint(back)["stages"] == ["tiny", "export", "import"]
    assert json.loads((back / "report.json").read_text())["input_format"] == "gguf"


def test_a_sidecar_beside_another_file_is_not_believed(tiny_model, tmp_path):
    out = tmp_path / "m.gguf"
    export_gguf(tiny_model, out, "f16")
    before = lineage_fingerprint(out)
    with open(out, "ab") as f:  # the file changed after the sidecar was written
        f.write(b"\0" * 32)
    assert read_sidecar(out) is None and lineage_fingerprint(out) is None and before is not None
    assert lineage_fingerprint(tmp_path / "nothing.gguf") is None


def test_lineage_fingerprints_differ_between_models_and_are_stable(tiny_model, tmp_path):
    copy = convert_folder(tiny_model, tmp_path / "copy", "float16", stage="export")
    first, again, other = lineage_fingerprint(copy), lineage_fingerprint(copy), lineage_fingerprint(tiny_model)
    assert first == again and first["lineage_sha256"] != other["lineage_sha256"]
    assert first["stages"] == ["tiny", "export"] and json.dumps(first)
    bare = shutil.copytree(tiny_model, tmp_path / "bare")
    (bare / "ladder.json").unlink()
    assert lineage_fingerprint(bare) is None


@pytest.mark.parametrize("kind", ["tiny", "import", "export"])
def test_model_io_verbs_write_report_json(tiny_model, tmp_path, kind):
    if kind == "tiny":
        folder = tiny_model
    elif kind == "import":
        folder = import_model(str(tiny_model), tmp_path / "i", "float32")
    else:
        folder = convert_folder(tiny_model, tmp_path / "e", "bfloat16", stage="export")
    report = json.loads((folder / "report.json").read_text())
    assert report and (report.get("arch") == "qwen2" or report.get("tensors", 0) > 0)


def test_a_kill_between_the_gguf_and_its_sidecar_leaves_no_wrong_lineage(tiny_model, tmp_path):
    import os
    import signal
    import subprocess
    import sys

    out = tmp_path / "m.gguf"
    export_gguf(tiny_model, out, "f16")
    code = ("from codeladder.models.gguf_export import export_gguf; "
            f"export_gguf({str(tiny_model)!r}, {str(out)!r}, 'q8_0')")
    done = subprocess.run([sys.executable, "-c", code], env={**os.environ, "CODELADDER_CRASH_AT": "before-sidecar"})
    assert done.returncode == -signal.SIGKILL
    assert lineage_fingerprint(out) is None  # the new GGUF is in place, the old sidecar no longer matches it
    export_gguf(tiny_model, out, "q8_0")
    assert read_sidecar(out)["report"]["type"] == "q8_0"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.gguf", "m.gguf.ladder.json"]
