"""Merging and pruning against hand-written formulas, on real safetensors files, through the CLI."""

import json
import math
import shutil

import pytest
import torch
from safetensors.torch import load_file, save_file

from codeladder.errors import LadderError
from codeladder.measure.check import check_model
from codeladder.models.tiny import TinySpec, build_tiny_model
from codeladder.transforms.merge import merge_models
from codeladder.transforms.merge.base import Chunk
from codeladder.transforms.merge.params import DareParams as MergeParams
from codeladder.transforms.merge.dare import DareLinear, DareTies
from codeladder.transforms.merge.slerp import slerp_coefficients
from codeladder.transforms.merge.ties import Ties
from conftest import ladder


@pytest.fixture(scope="module")
def trio(tmp_path_factory):
    root = tmp_path_factory.mktemp("merge")
    return [build_tiny_model(root / f"m{seed}", TinySpec(seed=seed)) for seed in (11, 12, 13)]


def weights(folder):
    return load_file(str(folder / "model.safetensors"))


def test_slerp_formula_by_hand():
    a, b = torch.tensor([1.0, 0.0]), torch.tensor([0.0, 1.0])
    s_a, s_b = slerp_coefficients(float(a @ b), 1.0, 1.0, 0.5)
    assert s_a == pytest.approx(math.sin(math.pi / 4) / math.sin(math.pi / 2))
    mid = s_a * a + s_b * b
    assert float(mid.norm()) == pytest.approx(1.0)  # on the arc, not the chord
    assert slerp_coefficients(1.0, 1.0, 1.0, 0.3) == (pytest.approx(0.7), pytest.approx(0.3))  # colinear: lerp


def test_slerp_endpoints_and_norms(trio, tmp_path):
    a, b = trio[0], trio[1]
    for t, expected in ((0.0, a), (1.0, b)):
        out = tmp_path / f"t{t}"
        ladder("merge", str(a), str(b), "--method", "slerp", "--t", str(t), "-o", str(out))
        got, want = weights(out), weights(expected)
        assert all(torch.allclose(got[k], want[k], atol=1e-6) for k in want)
    ladder("merge", str(a), str(b), "--method", "slerp", "--t", "0.5", "-o", str(tmp_path / "mid"))
    report = json.loads((tmp_path / "mid" / "merge_report.json").read_text())
    checked = [(name, row["norm_ratio"]) for name, row in report["tensors"].items() if row["norm_ratio"] is not None]
    assert len(checked) >= 20  # zero biases have no ratio
    for name, ratio in checked:
        assert abs(ratio - 1.0) <= 0.05, name
    assert check_model(tmp_path / "mid").ok


def test_ties_worked_example():
    base = torch.zeros(5)
    deltas = [torch.tensor([3.0, -2.0, 0.1, 1.0, -4.0]),
              torch.tensor([2.0, 1.5, -0.2, -3.0, -1.0]),
              torch.tensor([-1.0, 1.0, 0.3, -1.0, 2.0])]
    params = MergeParams(weights=(1.0, 1.0, 1.0), density=0.6)
    method = Ties()
    chunk = Chunk((0, 1), [base + d for d in deltas], base)
    stats = method.prepare("w", lambda: iter([chunk]), 5, params)
    # top 3 of 5 by magnitude per model: thresholds 2, 1.5, 1
    assert stats["thresholds"] == [2.0, 1.5, 1.0]
    out = method.combine(chunk, stats, params, "w").tensor
    # trimmed: m1 [3,-2,0,0,-4], m2 [2,1.5,0,-3,0], m3 [-1,1,0,-1,2]
    # elected sign by mass: [+ (4), + (0.5), none, - (-4), - (-2)]
    # disjoint mean over agreeing entries: [(3+2)/2, (1.5+1)/2, 0, (-3-1)/2, -4/1]
    assert torch.allclose(out, torch.tensor([2.5, 1.25, 0.0, -2.0, -4.0]))


def test_dare_keeps_the_expectation():
    base = torch.zeros(2000)
    delta = torch.linspace(-1, 1, 2000)
    method = DareLinear()
    outs = [method.combine(Chunk((0, 1), [base + delta], base), {}, MergeParams(weights=(1.0,), density=0.3, seed=s),
                           "w").tensor for s in range(400)]
    mean = torch.stack(outs).mean(0)
    error = (mean - delta).abs()
    # each entry's mean over 400 seeds has std |d| * sqrt((1 - p) / p) / 20 <= 0.077
    assert float(error.mean()) < 0.05 and float(error.max()) < 0.4
    assert float((outs[0] == 0).float().mean()) == pytest.approx(0.7, abs=0.05)
    assert torch.equal(outs[0], method.combine(Chunk((0, 1), [base + delta], base), {},
                                               MergeParams(weights=(1.0,), density=0.3, seed=0), "w").tensor)


def test_task_arithmetic_with_weight_zero_is_the_base(trio, tmp_path):
    base, a, b = trio
    out = tmp_path / "ta0"
    ladder("merge", str(a), str(b), "--method", "task_arithmetic", "--base", str(base), "--weights", "0,0",
           "-o", str(out))
    got, want = weights(out), weights(base)
    assert all(torch.equal(got[k], want[k]) for k in want)


def test_ties_leaves_fewer_sign_conflicts_than_a_naive_sum(trio, tmp_path):
    base, a, b = trio
    reports = {}
    for method in ("task_arithmetic", "ties", "dare_ties", "dare_linear", "linear"):
        out = tmp_path / method
        extra = [] if method == "linear" else ["--base", str(base)]
        ladder("merge", str(a), str(b), "--method", method, *extra, "--density", "0.3", "-o", str(out))
        assert check_model(out).ok, method
        assert (out / "tokenizer.json").read_bytes() == (a / "tokenizer.json").read_bytes()
        reports[method] = json.loads((out / "merge_report.json").read_text())["summary"]
    assert reports["ties"]["sign_conflicts_after"] < reports["task_arithmetic"]["sign_conflicts_after"]
    assert reports["ties"]["sign_conflicts_before"] == pytest.approx(reports["task_arithmetic"]["sign_conflicts_before"])


@pytest.mark.parametrize("method", ["linear", "slerp", "ties"])
def test_row_chunks_give_the_same_merge(trio, tmp_path, method):
    base, a, b = trio
    kwargs = {"base": base} if method == "ties" else {}
    whole = merge_models([a, b], method, tmp_path / "whole", density=0.4, **kwargs)
    chunked = merge_models([a, b], method, tmp_path / "chunked", density=0.4, chunk_elements=1000, **kwargs)
    assert whole["summary"]["tensors"] == chunked["summary"]["tensors"]
    w, c = weights(tmp_path / "whole"), weights(tmp_path / "chunked")
    for name in w:
        if method == "ties":  # histogram threshold: at most a few entries on the boundary differ
            assert (w[name] != c[name]).float().mean() < 0.01, name
        else:
            assert torch.allclose(w[name], c[name], atol=1e-6), name


@pytest.mark.parametrize("method", [DareLinear, DareTies])
def test_dare_chunks_draw_the_masks_the_engine_promises(trio, tmp_path, method):
    """DARE's mask is seeded per tensor, chunk (its first row) and model, and drawn one byte per entry in row
    order. So: a tensor left whole, and the first chunk of a split one, are bit-identical to the whole-tensor
    merge; every other chunk is exactly that method on those rows with its own seed; and a run is reproduced
    bit for bit by its seed."""
    base, a, b = trio
    params = MergeParams(weights=(1.0, 1.0), density=0.4, seed=3)
    run = {}
    for label, elements in (("whole", 1 << 21), ("chunked", 1000), ("again", 1000)):
        merge_models([a, b], method.name, tmp_path / label, base=base, density=0.4, seed=3, chunk_elements=elements)
        run[label] = weights(tmp_path / label)
    inputs = [weights(folder) for folder in (a, b, base)]

    def by_hand(name: str, rows: int, step: int) -> torch.Tensor:
        """The method on each chunk of ``step`` rows, with that chunk's seed, as the engine promises."""
        parts = []
        for start in range(0, rows, step):
            end = min(rows, start + step)
            models = [t[name][start:end].float() for t in inputs[:2]]
            parts.append(method().combine(Chunk((start, end), models, inputs[2][name][start:end].float()), {},
                                          params, name).tensor)
        return torch.cat(parts).to(inputs[0][name].dtype)

    split = 0
    for name, whole in run["whole"].items():
        chunked = run["chunked"][name]
        assert torch.equal(chunked, run["again"][name]), name  # same seed, same bits
        rows = whole.shape[0]
        step = max(1, 1000 // (whole.numel() // rows))  # the engine's rows per chunk of 1000 elements
        assert torch.equal(whole, by_hand(name, rows, rows)), name
        assert torch.equal(chunked, by_hand(name, rows, step)), name
        if step < rows:
            split += 1
            assert torch.equal(chunked[:step], whole[:step]), name  # the same seed and the same first bytes
            assert not torch.equal(chunked, whole), name  # the other chunks draw masks of their own
        else:  # one chunk: the whole tensor's own mask
            assert torch.equal(chunked, whole), name
    assert split >= 10
    dropped = (run["whole"]["model.layers.0.mlp.up_proj.weight"] == inputs[2]["model.layers.0.mlp.up_proj.weight"])
    assert float(dropped.float().mean()) == pytest.approx(0.6 ** 2, abs=0.03)  # both models' entries dropped


def test_vocabulary_mismatch_is_a_clear_error(trio, tmp_path):
    other = build_tiny_model(tmp_path / "small-vocab", TinySpec(seed=1, vocab=2048))
    done = ladder("merge", str(trio[0]), str(other), "--method", "linear", "-o", str(tmp_path / "x"), check=False)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert ("embed_tokens" in done.stderr or "lm_head" in done.stderr) and "vocabularies" in done.stderr


def test_wanda_prunes_half_of_every_row_and_keeps_dtype(tmp_path):
    model = build_tiny_model(tmp_path / "bf16", TinySpec(seed=4, dtype="bfloat16"))
    out = tmp_path / "pruned"
    text = tmp_path / "t.py"
    text.write_text("def add(a, b):\n    return a + b\n" * 20)
    report = json.loads(ladder("prune", str(model), "--method", "wanda", "--sparsity", "0.5", "--samples", "16",
                               "--text", str(text), "-o", str(out), "--json").stdout)
    pruned, original = weights(out), weights(model)
    for name, tensor in pruned.items():
        assert tensor.dtype == original[name].dtype == torch.bfloat16
        if name.endswith(("q_proj.weight", "down_proj.weight", "up_proj.weight")):
            zeros = (tensor == 0).sum(1)
            assert torch.all(zeros == tensor.shape[1] // 2), name
        elif "proj" not in name:
            assert torch.equal(tensor, original[name]), name  # embeddings, norms, lm_head untouched
    assert report["sparsity_achieved"] == pytest.approx(0.5)
    assert "perplexity_before" in report and "perplexity_after" in report
    assert (out / "tokenizer.json").read_bytes() == (model / "tokenizer.json").read_bytes()
    assert check_model(out).ok


def test_wanda_differs_from_magnitude_and_2_4_has_its_pattern(tmp_path, trio):
    runs = {}
    for method, structure in (("wanda", "unstructured"), ("magnitude", "unstructured"), ("wanda", "2:4")):
        out = tmp_path / f"{method}-{structure.replace(':', '')}"
        ladder("prune", str(trio[0]), "--method", method, "--structure", structure, "--samples", "8", "-o", str(out))
        runs[(method, structure)] = weights(out)["model.layers.0.mlp.up_proj.weight"]
    assert not torch.equal(runs[("wanda", "unstructured")] == 0, runs[("magnitude", "unstructured")] == 0)
    groups = (runs[("wanda", "2:4")] == 0).reshape(-1, 4).sum(1)
    assert torch.all(groups == 2)


def test_merge_adapter_matches_peft(tiny_model, tmp_path):
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(tiny_model)
    peft_model = get_peft_model(model, LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"]))
    with torch.no_grad():
        for name, param in peft_model.named_parameters():
            if "lora_B" in name:
                param.normal_(0, 0.05)
    peft_model.save_pretrained(tmp_path / "adapter")
    expected = peft_model.merge_and_unload().state_dict()
    ladder("merge-adapter", str(tiny_model), str(tmp_path / "adapter"), "-o", str(tmp_path / "merged"))
    got = weights(tmp_path / "merged")
    for name, tensor in got.items():
        assert torch.allclose(tensor, expected[name], atol=1e-6), name
    assert not torch.equal(got["model.layers.0.self_attn.q_proj.weight"], weights(tiny_model)["model.layers.0.self_attn.q_proj.weight"])
    assert check_model(tmp_path / "merged").ok

    broken = tmp_path / "broken"
    shutil.copytree(tmp_path / "adapter", broken)
    tensors = load_file(str(broken / "adapter_model.safetensors"))
    renamed = {k.replace("q_proj", "nonexistent_proj"): v for k, v in tensors.items()}
    save_file(renamed, str(broken / "adapter_model.safetensors"))
    done = ladder("merge-adapter", str(tiny_model), str(broken), "-o", str(tmp_path / "x"), check=False)
    assert done.returncode == 2 and "nonexistent_proj" in done.stderr and "match no base weight" in done.stderr


def test_merge_refuses_bad_arguments(trio, tmp_path):
    with pytest.raises(LadderError, match="needs --base"):
        merge_models(trio[:2], "ties", tmp_path / "x")
    with pytest.raises(LadderError, match="--density"):
        merge_models(trio[:2], "ties", tmp_path / "x", base=trio[2], density=0)
    with pytest.raises(LadderError, match="two endpoints"):
        merge_models(trio, "slerp", tmp_path / "x")


def test_sign_election_and_disjoint_mean_equal_peft():
    from peft.utils.merge_utils import calculate_majority_sign_mask, disjoint_merge

    from codeladder.transforms.merge.ties import elect_and_merge

    generator = torch.Generator().manual_seed(0)
    for models in (2, 3, 5):
        weighted = [torch.randn(4000, generator=generator) * (torch.rand(4000, generator=generator) > 0.4)
                    for _ in range(models)]
        weighted[0][:50] = 0.0  # all-zero and tied entries
        weighted[1][:50] = 0.0
        stacked = torch.stack(weighted)
        mask = calculate_majority_sign_mask(stacked, method="total")
        ours, kept = elect_and_merge(weighted)
        assert torch.allclose(ours, disjoint_merge(stacked, mask), atol=1e-6)
        assert torch.allclose(torch.stack(kept), stacked * mask)


def _adapter_copy(source, target, config=None, tensors=None):
    shutil.copytree(source, target)
    if config is not None:
        (target / "adapter_config.json").write_text(config if isinstance(config, str) else json.dumps(config))
    if tensors is not None:
        save_file(tensors(load_file(str(target / "adapter_model.safetensors"))),
                  str(target / "adapter_model.safetensors"))
    return target


def test_bad_adapters_are_one_line_and_write_nothing(tiny_model, tmp_path):
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    from codeladder.transforms.adapter import merge_adapter

    good = tmp_path / "good"
    get_peft_model(AutoModelForCausalLM.from_pretrained(tiny_model),
                   LoraConfig(r=2, lora_alpha=4, target_modules=["q_proj"])).save_pretrained(good)
    settings = json.loads((good / "adapter_config.json").read_text())
    narrow = lambda t: {k: (v[:, :32].contiguous() if "lora_A" in k else v) for k, v in t.items()}  # noqa: E731
    cases = {
        "r = 0": dict(config={**settings, "r": 0}),
        "adapter_config.json: not valid JSON": dict(config="{"),
        "lora_alpha = 'x'": dict(config={**settings, "lora_alpha": "x"}),
        "DoRA": dict(config={**settings, "use_dora": True}),
        "made for another model": dict(tensors=narrow),
        "not a LoRA A/B matrix": dict(tensors=lambda t: {**t, "base_model.model.lm_head.modules_to_save.weight":
                                                         torch.zeros(2)}),
        "says r = 2": dict(tensors=lambda t: {k: torch.cat([v, v], dim=0 if "lora_A" in k else 1)
                                              for k, v in t.items()}),
    }
    for index, (expected, change) in enumerate(cases.items()):
        adapter = _adapter_copy(good, tmp_path / f"bad{index}", **change)
        with pytest.raises(LadderError, match=expected) as caught:
            merge_adapter(tiny_model, adapter, tmp_path / "out")
        assert "\n" not in str(caught.value) and not (tmp_path / "out").exists(), expected
    truncated = _adapter_copy(good, tmp_path / "truncated")
    with open(truncated / "adapter_model.safetensors", "r+b") as f:
        f.truncate(200)
    with pytest.raises(LadderError, match="truncated"):
        merge_adapter(tiny_model, truncated, tmp_path / "out")


def test_merge_needs_a_real_tokenizer_source(trio, tmp_path):
    from codeladder.models.checkpoint import TOKENIZER_FILES

    bare = shutil.copytree(trio[0], tmp_path / "bare")
    for name in TOKENIZER_FILES:
        (bare / name).unlink(missing_ok=True)
    with pytest.raises(LadderError, match="--tokenizer-source ./nope: no such folder"):
        merge_models([trio[0], trio[1]], "linear", tmp_path / "x", tokenizer_source="./nope")
    with pytest.raises(LadderError, match="no tokenizer.*--tokenizer-source"):
        merge_models([bare, trio[1]], "linear", tmp_path / "x")
    assert not (tmp_path / "x").exists()
    out = merge_models([bare, trio[1]], "linear", tmp_path / "x", tokenizer_source=trio[1])
    assert out["method"] == "linear"
    assert (tmp_path / "x" / "tokenizer.json").read_bytes() == (trio[1] / "tokenizer.json").read_bytes()
    assert check_model(tmp_path / "x").ok


def test_wanda_refuses_calibration_without_text(trio, tmp_path):
    from codeladder.transforms.prune import prune_model

    for index, (content, expected) in enumerate((("", "no rows"), ('{"id": 1}\n', ":1: expected a 'text'"),
                                                 ('{"text": "   "}\n', ":1: expected a 'text'"))):
        calibration = tmp_path / f"c{index}.jsonl"
        calibration.write_text(content)
        with pytest.raises(LadderError, match=expected):
            prune_model(trio[0], tmp_path / "out", calibration=calibration)
        assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("flags, expected", [
    (dict(method="slerp", t=1.5), "--t 1.5"), (dict(method="slerp", t=-0.1), "--t -0.1"),
    (dict(method="ties", density=0), "--density 0"), (dict(method="ties", density=1.5), "--density 1.5"),
    (dict(method="linear", weights=(float("nan"), 1.0)), "finite"), (dict(method="nope"), "--method nope")])
def test_merge_flags_out_of_range_are_refused(trio, tmp_path, flags, expected):
    with pytest.raises(LadderError, match=expected):
        merge_models(trio[:2], out=tmp_path / "x", base=trio[2], **flags)
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize("flags, expected", [
    (dict(sparsity=1.0), "--sparsity 1.0"), (dict(sparsity=-0.1), "--sparsity -0.1"),
    (dict(samples=0), "--samples 0"), (dict(structure="3:4"), "--structure 3:4")])
def test_prune_flags_out_of_range_are_refused(trio, tmp_path, flags, expected):
    from codeladder.transforms.prune import prune_model

    with pytest.raises(LadderError, match=expected):
        prune_model(trio[0], tmp_path / "x", **flags)
    assert not (tmp_path / "x").exists()
