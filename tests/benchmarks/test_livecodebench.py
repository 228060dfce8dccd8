"""LiveCodeBench: a small release in the official format, judged in the real sandbox as the official rules say."""

import base64
import json
import pickle
import zlib

import pytest

from conftest import ladder

from codeladder.benchmarks.livecodebench import LiveCodeBench, release_files, stdout_matches
from codeladder.errors import LadderError
from codeladder.sandbox import Job, Limits, SandboxPool


def hidden(tests: list[dict]) -> str:
    """How the release stores private tests: base64 of zlib of a pickle of the JSON string."""
    return base64.b64encode(zlib.compress(pickle.dumps(json.dumps(tests)))).decode()


def row(qid: str, day: str, tests: list[dict], private: list[dict], func_name: str | None = None) -> dict:
    return {"question_title": qid, "question_content": f"Problem {qid}.", "platform": "atcoder", "question_id": qid,
            "contest_id": "c1", "contest_date": f"{day}T00:00:00", "starter_code": (
                f"class Solution:\n    def {func_name}(self, nums: List[int], k: int) -> int:\n        "
                if func_name else ""),
            "difficulty": "easy", "public_test_cases": json.dumps(tests), "private_test_cases": hidden(private),
            "metadata": json.dumps({"func_name": func_name} if func_name else {})}


SUM = [{"input": "3\n1 2 3\n", "output": "6\n", "testtype": "stdin"}]
SUM_HIDDEN = [{"input": "2\n10 20\n", "output": "30", "testtype": "stdin"}]
HALF = [{"input": "3\n", "output": "1.5\n", "testtype": "stdin"}]
FUNC = [{"input": "[1, 2, 3]\n2", "output": "5", "testtype": "functional"}]
FUNC_HIDDEN = [{"input": "[4, 5]\n1", "output": "5", "testtype": "functional"}]


@pytest.fixture()
def release(tmp_path):
    (tmp_path / "test.jsonl").write_text(json.dumps(row("old1", "2023-05-01", SUM, SUM_HIDDEN)) + "\n")
    rows = [row("abc1", "2024-09-10", SUM, SUM_HIDDEN), row("abc2", "2024-11-20", HALF, []),
            row("lc1", "2025-01-15", FUNC, FUNC_HIDDEN, func_name="topSum")]
    (tmp_path / "test6.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return tmp_path


def judge(bench, solutions: dict[str, str]) -> dict[str, tuple[str, str]]:
    tasks = {t.task_id: t for t in bench.load()}
    jobs = []
    for key, code in solutions.items():
        program = bench.test_program(tasks[key.split("#")[0]], code)
        jobs.append(Job(key, program.code, program.payload, program.timeout_s, checker=program.checker))
    with SandboxPool(workers=2, limits=Limits(timeout_s=20, memory_mb=1024)) as pool:
        return {v.key: (v.status, v.detail) for v in pool.run(jobs)}


def test_releases_and_date_windows(release):
    assert release_files("v1") == ["test.jsonl"] and release_files("release_v3") == [
        "test.jsonl", "test2.jsonl", "test3.jsonl"]
    assert [t.task_id for t in LiveCodeBench(str(release), "v6").load()] == ["abc1", "abc2", "lc1"]
    assert [t.task_id for t in LiveCodeBench(str(release), "v6", since="2024-11-01").load()] == ["abc2", "lc1"]
    assert [t.task_id for t in LiveCodeBench(str(release), "v6", until="2024-11-20").load()] == ["abc1", "abc2"]
    assert [t.task_id for t in LiveCodeBench(str(release), "v6", cutoff="2024-11-20").load()] == ["lc1"]
    with pytest.raises(LadderError, match="test2.jsonl: missing"):
        LiveCodeBench(str(release), "release_v6").load()
    with pytest.raises(LadderError, match="--data DIR"):
        LiveCodeBench().load()


def test_hidden_tests_are_decoded_and_an_unsafe_pickle_is_refused(release):
    task = LiveCodeBench(str(release), "v6").load()[0]
    assert task.data["tests"] == SUM + SUM_HIDDEN

    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    bad = row("bad", "2024-12-01", SUM, [])
    bad["private_test_cases"] = base64.b64encode(zlib.compress(pickle.dumps(Evil()))).decode()
    (release / "test6.jsonl").write_text(json.dumps(bad) + "\n")
    with pytest.raises(LadderError, match=r"test6.jsonl:1: private_test_cases holds an unsafe .*builtins.print"):
        LiveCodeBench(str(release), "v6").load()


@pytest.mark.parametrize(("printed", "expected", "same"), [
    ("6\n", "6", True), ("  6  \n\n", "6\n", True), ("1 2\n3\n", "1 2\n3", True), ("1.50\n", "1.5", True),
    ("1.5000001", "1.5", False), ("6\n7\n", "6", False), ("1  2", "1 2", True), ("abc", "abd", False)])
def test_the_official_output_comparison(printed, expected, same):
    assert stdout_matches(printed, expected) is same


def test_hand_made_cases_score_as_the_official_rules_say(release):
    bench = LiveCodeBench(str(release), "v6")
    verdicts = judge(bench, {
        "abc1#right": "n = int(input())\nprint(sum(map(int, input().split())))",
        "abc1#whitespace": "import sys\ndata = sys.stdin.buffer.read().split()\nprint('  ', sum(map(int, data[1:])), '\\n')",
        "abc1#wrong": "input()\nprint(sum(map(int, input().split())) + 1)",
        "abc1#runtime-error": "raise ValueError('boom')",
        "abc1#timeout": "while True:\n    pass",
        "abc1#exits": "input()\nprint(sum(map(int, input().split())))\nexit(0)",
        "abc1#syntax": "print(",
        "abc2#float": "print(int(input()) / 2)",
        "abc2#float-digits": "print('%.4f' % (int(input()) / 2))",
        "lc1#right": "class Solution:\n    def topSum(self, nums, k):\n        return sum(sorted(nums)[-k:])",
        "lc1#wrong": "class Solution:\n    def topSum(self, nums, k):\n        return sum(nums[:k])",
        "lc1#liar": "class Solution:\n    def topSum(self, nums, k):\n"
                    "        return type('L', (int,), {'__eq__': lambda s, o: True})(0)",
    })
    status = {k: v[0] for k, v in verdicts.items()}
    assert status == {"abc1#right": "passed", "abc1#whitespace": "passed", "abc1#wrong": "failed",
                      "abc1#runtime-error": "failed", "abc1#timeout": "timeout", "abc1#exits": "passed",
                      "abc1#syntax": "syntax_error", "abc2#float": "passed", "abc2#float-digits": "passed",
                      "lc1#right": "passed", "lc1#wrong": "failed", "lc1#liar": "failed"}
    assert "wrong answer" in verdicts["abc1#wrong"][1] and "ValueError" in verdicts["abc1#runtime-error"][1]


def test_expected_outputs_never_reach_the_candidate(release):
    bench = LiveCodeBench(str(release), "v6")
    task = bench.load()[0]
    program = bench.test_program(task, "print(1)")
    assert "30" not in program.code and program.checker["tests"][1]["output"] == "30"


def test_eval_scores_a_window_of_samples_named_by_question_id(release, tmp_path):
    samples = tmp_path / "samples.jsonl"
    samples.write_text("".join(json.dumps(r) + "\n" for r in [
        {"task_id": "old1", "solution": "print(0)"},  # outside the window: skipped, not refused
        {"task_id": "abc2", "solution": "print(int(input()) / 2)"},
        {"task_id": "lc1", "solution": "class Solution:\n    def topSum(self, nums, k):\n        return 0"}]))
    ladder("eval", "livecodebench", "--data", str(release), "--release", "v6", "--since", "2024-11-01",
           "--samples", str(samples), "--output", str(tmp_path / "run"))
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["window"] == {"release": "v6", "since": "2024-11-01", "until": None, "after": None}
    assert summary["num_tasks"] == 2 and summary["pass_at_k"]["1"] == 0.5
    assert summary["task_dates"] == {"abc2": "2024-11-20", "lc1": "2025-01-15"}
    assert len(summary["dataset_sha256"]) == 64  # the user's copy of the release, by checksum
    typo = tmp_path / "typo.jsonl"
    typo.write_text(json.dumps({"task_id": "nope", "solution": "print(0)"}) + "\n")
    refused = ladder("eval", "livecodebench", "--data", str(release), "--samples", str(typo), "-o",
                     str(tmp_path / "run3"), check=False)
    assert refused.returncode != 0 and "task_id 'nope' is not a livecodebench task" in refused.stdout + refused.stderr
    done = ladder("eval", "livecodebench", "--data", str(release), "--after-cutoff", "--samples", str(samples),
                  "--output", str(tmp_path / "run2"), check=False)
    assert done.returncode != 0 and "give --cutoff" in done.stdout + done.stderr
