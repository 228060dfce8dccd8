"""Every output has lineage and a report: GGUF files through a sidecar, folders through ladder.json and
report.json; ``lineage_fingerprint`` joins a result to the model it measured."""

import json
import math
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
    from safetensors import safe_open

    with safe_open(str(folder / "model.safetensors"), "pt") as weights:
        names = list(weights.keys())
        count = sum(math.prod(weights.get_slice(n).get_shape()) for n in names)
    if kind == "tiny":  # what `ladder tiny` built: its architecture and parameter count, as the weights say
        config = json.loads((folder / "config.json").read_text())
        assert report["arch"] == config["model_type"] and report["parameters"] == count
    else:  # import / export: every tensor of the weights counted, source and dtype named
        assert report["tensors"] == len(names) and report["source"] == str(tiny_model)
        assert report["dtype"] == ("float32" if kind == "import" else "bfloat16")


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


def test_a_merged_fine_tune_keeps_its_finetune_stage_and_the_order_is_judged_on_the_graph(tiny_model, tmp_path):
    """The demo's shape: tiny -> finetune, then SLERP(tiny, fine-tune) -> prune. The merge's lineage holds both
    parents' stages (the finetune's data sha256 and contamination mark with them), each stage names its parents,
    and `lineage_order` judges the real order along each path."""
    from codeladder.models.lineage import file_sha256, out_of_order, stage_id
    from codeladder.pipeline.order import ORDER
    from codeladder.transforms.finetune import finetune
    from codeladder.transforms.finetune.params import FinetuneParams
    from codeladder.transforms.merge.engine import merge_models

    data = tmp_path / "d.jsonl"
    data.write_text("".join(json.dumps({"prompt": f"Add {i}.", "completion": f"x + {i}"}) + "\n" for i in range(4)))
    finetune(FinetuneParams(base=tiny_model, data=data, output=tmp_path / "ft", batch_size=4, epochs=1, val_split=0,
                            rank=4, max_length=32, merge=True))
    merge_models([tiny_model, tmp_path / "ft" / "merged"], "slerp", tmp_path / "merged")
    lineage = json.loads((tmp_path / "merged" / "ladder.json").read_text())
    names = [s["stage"] for s in lineage["stages"]]
    assert names == ["tiny", "finetune", "merge-adapter", "merge"]  # the shared tiny stage once, parents first
    trained = lineage["stages"][1]["params"]
    assert trained["data_sha256"] == file_sha256(data) and trained["contaminated"] is False
    ids = [stage_id(s) for s in lineage["stages"]]
    assert lineage["stages"][3]["parents"] == [ids[0], ids[2]]  # the merge was made from tiny and the fine-tune
    assert lineage["stages"][1]["parents"] == [ids[0]] and lineage["stages"][0]["parents"] == ["source:ladder tiny"]
    assert out_of_order(lineage, ORDER, {"merge-adapter": "finetune"}) == []
    from codeladder.ship.card import contamination_lines

    assert "no training stage" not in contamination_lines(lineage)[0] and file_sha256(data)[:16] in \
        contamination_lines(lineage)[0]


def test_the_order_is_judged_along_each_path_not_along_the_list():
    def stage(sid: str, name: str, *parents: str) -> dict:
        return {"id": sid, "stage": name, "parents": list(parents)}

    from codeladder.models.lineage import out_of_order
    from codeladder.pipeline.order import ORDER

    # two branches listed one after the other: merging a pruned model is out of order on the pruned path
    branches = {"source": "s", "stages": [stage("a", "prune", "source:s"), stage("b", "finetune", "source:s"),
                                          stage("c", "merge", "a", "b")]}
    assert out_of_order(branches, ORDER, {}) == [("prune", "merge")]  # a merge after a prune on one path
    chain = {"source": "s", "stages": [stage("a", "finetune", "source:s"), stage("b", "merge", "a"),
                                       stage("c", "quantize", "b"), stage("d", "finetune", "c")]}
    assert out_of_order(chain, ORDER, {}) == [("quantize", "finetune")]
    parallel = {"source": "s", "stages": [stage("a", "quantize", "source:s"), stage("b", "finetune", "source:s")]}
    assert out_of_order(parallel, ORDER, {}) == []  # not on one path: no order between them
    legacy = {"source": "s", "stages": [{"stage": "prune"}, {"stage": "finetune"}]}  # before ids: a chain
    assert out_of_order(legacy, ORDER, {}) == [("prune", "finetune")]


def test_a_merge_carries_the_latest_training_cutoff_of_its_parents(tiny_model, tmp_path):
    from codeladder.models.lineage import training_cutoff
    from codeladder.transforms.merge.engine import merge_models

    import_model(str(tiny_model), tmp_path / "old", training_cutoff="2023-01-31")
    import_model(str(tiny_model), tmp_path / "new", training_cutoff="2024-06-30")
    import_model(str(tiny_model), tmp_path / "undated")
    assert training_cutoff(tmp_path / "undated") is None
    merge_models([tmp_path / "old", tmp_path / "new"], "slerp", tmp_path / "m1")
    merge_models([tmp_path / "undated", tmp_path / "old"], "linear", tmp_path / "m2")
    assert training_cutoff(tmp_path / "m1") == "2024-06-30"  # it has seen what either parent saw
    assert training_cutoff(tmp_path / "m2") == "2023-01-31"
    gguf = tmp_path / "m1.gguf"
    export_gguf(tmp_path / "m1", gguf, "q8_0")
    assert training_cutoff(gguf) == "2024-06-30"  # through the sidecar
