"""The merge engine that allocates once: the same bits as the plain expressions it replaced, its histogram equal
to torch.histc, and no buffer allocated per chunk once the largest chunk has been seen."""

import pytest
import torch
from safetensors.torch import load_file

from codeladder.models.lazy import LazyTensors
from codeladder.models.tiny import TinySpec, build_tiny_model
from codeladder.transforms.merge import merge_models
from codeladder.transforms.merge.base import Chunk, Workspace, _histogram
from codeladder.transforms.merge.slerp import slerp_coefficients


@pytest.fixture(scope="module")
def trio(tmp_path_factory):
    root = tmp_path_factory.mktemp("engine")
    spec = dict(hidden=96, layers=2, heads=4, kv_heads=2, intermediate=256, dtype="bfloat16")
    return [build_tiny_model(root / f"m{seed}", TinySpec(seed=seed, **spec)) for seed in (31, 32, 33)]


def test_the_histogram_counts_what_histc_counts():
    torch.manual_seed(0)
    values = torch.randn(1 << 18).abs()
    peak = float(values.max())
    edges = torch.tensor([0.0, peak, peak / 2, peak * 3 / 65536, peak * (1 - 2 ** -20)])  # bin edges and the peak
    magnitude = torch.cat([values, edges])
    chunk = Chunk((0, 1), [magnitude], None, Workspace())
    ours = _histogram(chunk, magnitude, 65536, peak)
    assert torch.equal(ours, torch.histc(magnitude, bins=65536, min=0.0, max=peak).double())
    assert ours.sum() == magnitude.numel()


def plain(path, name):
    return load_file(str(path / "model.safetensors"))[name].float()


@pytest.mark.parametrize("chunk_elements", [1 << 21, 3000])
def test_slerp_and_linear_are_the_plain_expressions_bit_for_bit(trio, tmp_path, chunk_elements):
    a, b, _ = trio
    merge_models([a, b], "slerp", tmp_path / "slerp", t=0.3, chunk_elements=chunk_elements)
    merge_models([a, b], "linear", tmp_path / "linear", weights=(0.7, 0.2), chunk_elements=chunk_elements)
    slerped, averaged = load_file(str(tmp_path / "slerp" / "model.safetensors")), \
        load_file(str(tmp_path / "linear" / "model.safetensors"))
    reader = LazyTensors(a)
    for name, info in reader.infos.items():
        x, y = plain(a, name), plain(b, name)
        if x.numel() <= chunk_elements:  # one chunk: the coefficients come from one float32 dot each
            fx, fy = x.reshape(-1), y.reshape(-1)
            s_a, s_b = slerp_coefficients(float(torch.dot(fx, fy)), float(torch.dot(fx, fx)) ** 0.5,
                                          float(torch.dot(fy, fy)) ** 0.5, 0.3)
            assert torch.equal(slerped[name], (s_a * x + s_b * y).to(torch.bfloat16)), name
        assert torch.equal(averaged[name], ((0.7 * x + 0.2 * y) / 0.9).to(torch.bfloat16)), name
    reader.close()


def test_ties_is_the_plain_expression_bit_for_bit(trio, tmp_path):
    a, b, base = trio
    merge_models([a, b], "ties", tmp_path / "ties", base=base, weights=(1.0, 0.5), density=0.3)
    merged = load_file(str(tmp_path / "ties" / "model.safetensors"))
    for name in merged:
        origin = plain(base, name)
        deltas = [plain(a, name) - origin, plain(b, name) - origin]
        keep = max(1, round(0.3 * origin.numel()))
        weighted = []
        for weight, delta in zip((1.0, 0.5), deltas):
            threshold = float(torch.kthvalue(delta.abs().reshape(-1), origin.numel() - keep + 1).values) \
                if keep < origin.numel() else 0.0
            weighted.append(weight * delta * (delta.abs() >= threshold))
        elected = torch.where(sum(weighted) >= 0, 1.0, -1.0)
        kept = [d * ((d * elected) > 0) for d in weighted]
        count = sum(((d * elected) > 0).float() for d in weighted)
        expected = origin + sum(kept) / count.clamp(min=1.0)
        assert torch.equal(merged[name], expected.to(torch.bfloat16)), name


def test_buffers_are_allocated_once_not_per_chunk():
    work = Workspace(capacity=1000)
    first = work.take("out", (10, 100))
    for rows in (10, 3, 7, 10):
        again = work.take("out", (rows, 100))
        assert again.data_ptr() == first.data_ptr()  # the same memory, whatever the chunk's size
    assert work.take("out", (20, 100)).numel() == 2000  # a larger chunk grows it once
