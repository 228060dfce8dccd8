"""The merge, prune, quantize and export registries: every entry has a summary, a reference and its
params; listing them imports no torch; errors list the registry's own names; a new method is one call."""

import json
import subprocess
import sys

import pytest

from codeladder.errors import LadderError
from codeladder.registry import registry

KINDS = ("merge", "prune", "quantize", "export")


@pytest.mark.parametrize("kind", KINDS)
def test_each_registry_lists_its_entries_with_summary_reference_and_params(kind):
    entries = registry(kind).entries()
    assert entries
    for entry in entries:
        row = entry.describe()
        assert row["summary"] and row["reference"] and row["source"].startswith("codeladder/"), row
        if kind != "quantize" or entry.data["output"] == "file":  # bitsandbytes schemes take no parameters
            assert row["params"], row


def test_the_registries_hold_what_users_type():
    assert set(registry("merge").names()) == {"linear", "task_arithmetic", "slerp", "ties", "dare_ties",
                                              "dare_linear"}
    assert set(registry("prune").names()) == {"wanda", "magnitude"}
    gguf = ["f32", "f16", "q8_0", "q5_0", "q4_0", "q4_k", "q5_k", "q6_k"]
    assert registry("export").names() == [*gguf, "safetensors"]
    assert registry("quantize").names() == ["int8", "nf4", "fp4", *gguf]
    assert registry("merge").get("ties").reference == "https://arxiv.org/abs/2306.01708"
    assert sorted(registry("merge").get("dare_ties").params.model_fields) == ["density", "seed", "weights"]


def test_listing_the_registries_imports_no_torch():
    code = ("import sys; from codeladder.registry import registry; "
            f"[e.describe() for k in {KINDS!r} for e in registry(k).entries()]; "
            "print(json.dumps(sorted(m for m in ('torch', 'llama_cpp', 'transformers') if m in sys.modules)))")
    done = subprocess.run([sys.executable, "-c", "import json; " + code], capture_output=True, text=True, check=True)
    assert json.loads(done.stdout) == []


def test_errors_list_the_registry_names(tiny_model, tmp_path):
    from codeladder.models.gguf_export import export_gguf
    from codeladder.models.export_types import gguf_types
    from codeladder.transforms.merge import merge_models
    from codeladder.transforms.quantize import quantize

    with pytest.raises(LadderError) as caught:
        merge_models([tiny_model, tiny_model], "nope", tmp_path / "x")
    assert all(name in str(caught.value) for name in registry("merge").names())
    with pytest.raises(LadderError, match="--type safetensors: choose one of " + ", ".join(gguf_types())):
        export_gguf(tiny_model, tmp_path / "x.gguf", "safetensors")
    with pytest.raises(LadderError, match="--scheme q3: choose one of int8, nf4, fp4, f32"):
        quantize(tiny_model, "q3", tmp_path / "x")


def test_a_new_merge_method_is_one_file_and_one_registry_call(tiny_model, tmp_path):
    from codeladder.transforms.merge import MERGE, merge_models
    from codeladder.transforms.merge.base import MergeMethod, MergeOutput
    from codeladder.transforms.merge.params import WeightedParams

    class First(MergeMethod):
        name = "toy_first"

        def combine(self, chunk, stats, params, tensor_name):
            return MergeOutput(chunk.models[0])

    MERGE.add("toy_first", "the first model, unchanged", First, reference="a test", params=WeightedParams)
    try:
        report = merge_models([tiny_model, tiny_model], "toy_first", tmp_path / "toy")
        assert report["method"] == "toy_first" and "toy_first" in registry("merge").names()
        assert json.loads((tmp_path / "toy" / "report.json").read_text())["method"] == "toy_first"
    finally:
        MERGE._entries.pop("toy_first")
