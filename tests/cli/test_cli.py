"""The CLI as a user runs it: the embedded default, errors as one clear line, a tiny real model end to end."""

import json

from conftest import ladder


def test_default_eval_is_the_reference_sanity_run(tmp_path):
    out = ladder("eval", "humaneval", "--output", str(tmp_path / "run"), cwd=tmp_path)
    assert "sanity run" in out.stderr
    assert "100.00%" in out.stdout
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["num_tasks"] == 164 and summary["num_samples"] == 164
    assert summary["pass_at_k"] == {"1": 1.0}
    assert summary["backend"] == "reference" and summary["sanity_run"] is True
    for key in ("ci95", "model", "device", "strategy", "template_hash", "dataset_sha256", "isolation", "limits",
                "timings", "codeladder_version"):
        assert key in summary
    results = (tmp_path / "run" / "results.jsonl").read_text().splitlines()
    row = json.loads(results[0])
    assert set(row) >= {"task_id", "sample_index", "passed", "status", "duration_s", "error"}


def test_default_output_folder_resumes_instead_of_redoing(tmp_path):
    ladder("eval", "mbpp", "--limit", "5", cwd=tmp_path)
    run = tmp_path / "runs" / "mbpp" / "reference-standard-n1-t0-s0"
    assert len((run / "results.jsonl").read_text().splitlines()) == 5
    ladder("eval", "mbpp", "--limit", "8", cwd=tmp_path)
    lines = (run / "results.jsonl").read_text().splitlines()
    assert len(lines) == 8
    assert json.loads((run / "summary.json").read_text())["num_tasks"] == 8


def one_line_error(done) -> str:
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) <= 2  # rich may wrap one long line
    return " ".join(lines)


def test_unknown_benchmark_is_one_line(tmp_path):
    message = one_line_error(ladder("eval", "humaneval-xl", cwd=tmp_path, check=False))
    assert "humaneval-xl" in message and "mbpp-plus" in message


def test_bad_samples_file_names_the_line(tmp_path):
    samples = tmp_path / "bad.jsonl"
    samples.write_text('{"task_id": "HumanEval/0", "solution": "pass"}\n{"task_id": "HumanEval/1", oops}\n')
    message = one_line_error(ladder("eval", "humaneval", "--samples", str(samples), cwd=tmp_path, check=False))
    assert "bad.jsonl:2" in message


def test_k_larger_than_n_is_refused(tmp_path):
    message = one_line_error(ladder("eval", "humaneval", "--k", "1,10", cwd=tmp_path, check=False))
    assert "--k" in message


def test_tiny_model_end_to_end_with_sampling(tiny_model, tmp_path):
    out = ladder("eval", "humaneval", "--model", str(tiny_model), "--n", "4", "--temperature", "0.8", "--k", "1,2",
                 "--limit", "6", "--max-new-tokens", "24", "--output", str(tmp_path / "run"), "--json", cwd=tmp_path)
    summary = json.loads(out.stdout)
    assert summary["backend"] == "hf" and summary["device"] == "cpu" and summary["dtype"] == "float32"
    assert summary["num_samples"] == 24 and summary["mode"] == "chat"
    assert set(summary["pass_at_k"]) == {"1", "2"}
    samples = [json.loads(line) for line in (tmp_path / "run" / "samples.jsonl").read_text().splitlines()]
    assert sorted({s["sample_index"] for s in samples}) == [0, 1, 2, 3]
    assert all(s["completion_tokens"] > 0 and "raw" in s and "extracted" in s for s in samples)
    assert len({s["raw"] for s in samples}) > 1  # sampled, not greedy copies


def test_completion_mode_on_a_llama_tiny_model(tmp_path):
    ladder("tiny", str(tmp_path / "llama"), "--arch", "llama", "--hidden", "32", "--heads", "2", "--kv-heads", "1")
    out = ladder("eval", "mbpp", "--model", str(tmp_path / "llama"), "--mode", "completion", "--limit", "3",
                 "--max-new-tokens", "16", "--output", str(tmp_path / "run"), "--json", cwd=tmp_path)
    summary = json.loads(out.stdout)
    assert summary["mode"] == "completion" and summary["num_samples"] == 3


def test_missing_device_is_an_error_not_a_fallback(tiny_model, tmp_path):
    done = ladder("eval", "humaneval", "--model", str(tiny_model), "--device", "cuda", "--limit", "1",
                  "--output", str(tmp_path / "run"), cwd=tmp_path, check=False)
    message = one_line_error(done)
    assert "cuda" in message


def test_tiny_tokenizer_round_trips_python(tiny_model):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_model)
    code = "def f(x):\n\tif x:\n        return  x  \n\n\n    # done\r\n"
    assert tokenizer.decode(tokenizer(code)["input_ids"]) == code


class RecordingServer:
    """An OpenAI-shaped chat server on loopback: records every request and answers each BigCodeBench task with
    its canonical solution in a fence (the task found by the prompt text the request carries)."""

    def __init__(self, rows: list[dict]):
        from http.server import BaseHTTPRequestHandler

        from conftest import send_json, serve_http

        self.requests: list[dict] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
                outer.requests.append(body)
                text = body["messages"][-1]["content"]
                row = next(r for r in rows if r["instruct_prompt"].strip() in text or r["complete_prompt"].strip() in text)
                answer = f"```python\n{row['code_prompt']}{row['canonical_solution']}\n```"
                send_json(self, json.dumps({"choices": [{"message": {"content": answer}}],
                                            "usage": {"prompt_tokens": 5, "completion_tokens": 7}}).encode())

        self.server, self.url = serve_http(Handler)

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def test_bigcodebench_instruct_mode_sends_the_instruct_prompt(tmp_path):
    """``--bcb-mode instruct`` asks a chat model with BigCodeBench's ``instruct_prompt`` (the task in words), not
    the ``complete_prompt`` (code with a docstring) that ``complete`` sends; both runs record what was asked."""
    from codeladder.benchmarks import get_benchmark
    from codeladder.runs import read_jsonl

    rows = get_benchmark("bigcodebench-hard").read_rows()[:3]
    server = RecordingServer(rows)
    try:
        asked = {}
        for mode in ("instruct", "complete"):
            run = tmp_path / mode
            out = ladder("eval", "bigcodebench-hard", "--bcb-mode", mode, "--limit", "3", "--backend", "openai",
                         "--base-url", server.url, "--concurrency", "1", "--output", str(run), "--json", cwd=tmp_path)
            summary = json.loads(out.stdout)
            assert summary["num_tasks"] == 3 and json.loads((run / "config.json").read_text())["bcb_mode"] == mode
            assert sum(summary["statuses"].values()) == 3
            assert set(summary["statuses"]) <= {"passed", "failed", "error", "timeout"}
            asked[mode], server.requests[:] = [r["messages"][-1]["content"] for r in server.requests], []
            samples = read_jsonl(run / "samples.jsonl")  # the answers to those prompts are the ones scored
            assert [s["task_id"] for s in samples] == [r["task_id"] for r in rows]
            assert [s["extracted"].strip() for s in samples] == [(r["code_prompt"] + r["canonical_solution"]).strip()
                                                                 for r in rows]
    finally:
        server.close()
    for row, instruct, complete in zip(rows, asked["instruct"], asked["complete"]):
        assert instruct.startswith(row["instruct_prompt"].strip()) and row["complete_prompt"].strip() not in instruct
        assert row["complete_prompt"].strip() in complete and row["instruct_prompt"].strip() not in complete
    done = ladder("eval", "bigcodebench", "--bcb-mode", "chat", cwd=tmp_path, check=False)
    assert done.returncode == 2 and "--bcb-mode" in done.stderr
