"""``ladder report``: the HTML report opened in real headless Chromium (no console errors, the leaderboard equals
each run's summary.json), the Markdown report, escaping of user data, lineage graphs and bad input."""

import json
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest

from analysis.run_factory import BETA_NAME, make_runs, summary, task
from conftest import ladder

from codeladder.errors import LadderError
from codeladder.measure.bench import BenchResult
from codeladder.report import ReportParams, make_report

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


@pytest.fixture(scope="module")
def runs():
    return make_runs()


@pytest.fixture(scope="module")
def bench_file(tmp_path_factory) -> Path:
    """A throughput result exactly as `ladder bench MODEL --json` prints it (the real result type)."""
    result = BenchResult(backend="llamacpp", model="/models/alpha-q8.gguf", device="cpu", dtype="gguf file_type 7",
                         prompt_tokens=128, new_tokens=32, prefill_tok_s=512.25, decode_tok_s=60.4, ttft_s=0.12,
                         e2e_s={"median": 0.64, "min": 0.6, "max": 0.7}, batch_tok_s={"1": 55.0, "4": 150.5})
    path = tmp_path_factory.mktemp("bench") / "bench-alpha.json"
    path.write_text(json.dumps(result.as_dict(), indent=2))
    return path


def open_in_chromium(page: Path, profile: Path) -> tuple[str, list[str]]:
    """The DOM after Chromium loaded the page, and every console message it logged."""
    if CHROMIUM is None:  # a browser test that cannot run fails, loudly: it is no optional check
        pytest.fail("chromium is not installed here: tools/system-deps.sh (apt-get install -y chromium) installs it")
    done = subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--enable-logging=stderr",
                           "--v=0", f"--user-data-dir={profile}", "--dump-dom", page.as_uri()],
                          capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout, [line for line in done.stderr.splitlines() if ":CONSOLE" in line]


class Tables(HTMLParser):
    """Rows of every <table id=...>: each cell as (text, attributes); plus a count of tags seen."""

    def __init__(self):
        super().__init__()
        self.tables: dict[str, list[list[tuple[str, dict]]]] = {}
        self.tags: dict[str, int] = {}
        self._table = self._cell = None

    def handle_starttag(self, tag, attrs):
        self.tags[tag] = self.tags.get(tag, 0) + 1
        attrs = dict(attrs)
        if tag == "table":
            self._table = self.tables.setdefault(attrs.get("id", ""), [])
        elif tag == "tr" and self._table is not None:
            self._table.append([])
        elif tag == "td" and self._table is not None:
            self._cell = ["", attrs]
            self._table[-1].append(self._cell)

    def handle_endtag(self, tag):
        if tag == "table":
            self._table = None
        elif tag == "td":
            self._cell = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell[0] += data


def parse(dom: str) -> Tables:
    parser = Tables()
    parser.feed(dom)
    return parser


def test_html_report_renders_in_chromium_without_console_errors_and_shows_the_summaries(runs, bench_file, tmp_path):
    out = tmp_path / "report.html"
    ladder("report", str(runs.root / "runs"), "--bench", str(bench_file), "-o", str(out))
    html = out.read_text()
    assert "<script" not in html.lower() and "<link" not in html.lower()
    assert not re.search(r'(src|href)\s*=\s*"(?!#)', html), "the report must not load anything from outside"

    dom, console = open_in_chromium(out, tmp_path / "profile")
    assert console == []
    page = parse(dom)
    rows = page.tables["leaderboard"][1:]  # after the header row
    assert len(rows) == 3
    for row in rows:
        model, benchmark, p1, ci, ks = row[:5]
        expected = summary(Path(row[-1][1]["data-path"]))
        assert model[1]["data-model"] == expected["model"] and benchmark[0] == expected["benchmark"]
        assert float(p1[1]["data-value"]) == expected["pass_at_k"]["1"]
        assert p1[0] == f"{100 * expected['pass_at_k']['1']:.2f}%"
        assert [float(ci[1]["data-low"]), float(ci[1]["data-high"])] == expected["ci95"]
        assert {k: float(v) for k, v in ks[1].items()} == {f"data-k{k}": v for k, v in expected["pass_at_k"].items()
                                                           if k != "1"}
        assert row[8][0] == "8/164 subset"  # the scope: 8 of HumanEval's 164 tasks scored
    assert page.tags.get("img", 0) == 0 and BETA_NAME in dom.replace("&quot;", '"').replace("&lt;", "<").replace(
        "&gt;", ">")  # the model name is text, not an element
    (decode,) = [cell for cell in page.tables["throughput"][1] if "data-value" in cell[1]]
    assert float(decode[1]["data-value"]) == 60.4
    strategies = {row[0][0]: row for row in page.tables["strategies"][1:]}
    assert strategies["standard"][5][0] == task(4) and strategies["few-shot"][5][0] == task(5)
    assert dom.count('class="point"') == 3 + 2 + 1  # pass@1,2,3 + pass@1,3 + pass@1
    assert dom.count("<rect") >= 3 * 8  # the heat map: 3 runs x 8 tasks


def test_the_console_check_sees_errors_when_there_are_some(tmp_path):
    page = tmp_path / "broken.html"
    page.write_text('<!DOCTYPE html><html><body><script>console.error("probe"); undefinedCall();</script>'
                    "</body></html>")
    _, console = open_in_chromium(page, tmp_path / "profile")
    assert any('"probe"' in line for line in console) and any("undefinedCall" in line for line in console)


def test_markdown_report_has_the_same_numbers_and_escapes_user_data(runs, bench_file, tmp_path):
    result = make_report(ReportParams(inputs=[str(runs.root / "runs"), str(bench_file)], output=str(tmp_path / "r.md"),
                                      format="md"))
    text = Path(result["output"]).read_text()
    assert result["bench_results"] == 1 and len(result["runs"]) == 3
    for path in (runs.alpha_standard, runs.alpha_few_shot, runs.beta):
        assert f"{100 * summary(path)['pass_at_k']['1']:.2f}%" in text
    assert "<img" not in text and "&lt;img src=x onerror=" in text
    assert f"| {task(6)} |" in text  # a task where the runs differ
    assert "60.4" in text
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]  # written atomically


def test_lineage_of_a_model_is_drawn_from_its_ladder_json(runs, tmp_path):
    from codeladder.models.lineage import extend_lineage, fingerprint, lineage_fingerprint, stage_record, to_json

    base, other, model = tmp_path / "base.gguf", tmp_path / "other<&>.gguf", tmp_path / "merged"
    base.write_bytes(b"base")
    other.write_bytes(b"other")
    tuned = tmp_path / "tuned"
    model.mkdir()
    tuned.mkdir()
    lineage = extend_lineage(None, str(base), stage_record("finetune", {"lr": 1e-4}, [fingerprint(base)]))
    (tuned / "ladder.json").write_text(to_json(lineage))
    lineage = extend_lineage(tuned, str(tuned), stage_record("merge", {"method": "ties"}, [fingerprint(other)]),
                             parents=[tuned, other])  # the merge's other parent has no lineage: its source
    (model / "ladder.json").write_text(to_json(lineage))
    run = tmp_path / "runs" / "merged-run"
    shutil.copytree(runs.beta, run)
    data = summary(run)
    data.update(model=str(model), model_lineage=lineage_fingerprint(model))
    (run / "summary.json").write_text(json.dumps(data))

    out = Path(make_report(ReportParams(inputs=[str(run)], output=str(tmp_path / "r.html")))["output"])
    html = out.read_text()
    section = html[html.index('id="lineage"'):]
    for label in ("base.gguf", "finetune", "merge", "merged", "+ other&lt;&amp;&gt;.gguf"):
        assert label in section


def test_bad_report_inputs_are_one_line_errors(runs, tmp_path):
    with pytest.raises(LadderError, match="nope: no such run folder"):
        make_report(ReportParams(inputs=[str(tmp_path / "nope")], output=str(tmp_path / "r.html")))
    not_bench = tmp_path / "notes.json"
    not_bench.write_text('{"hello": 1}')
    with pytest.raises(LadderError, match="notes.json: not a `ladder bench --json` result"):
        make_report(ReportParams(inputs=[str(runs.beta)], bench=str(not_bench), output=str(tmp_path / "r.html")))
    with pytest.raises(LadderError, match="is a folder"):
        make_report(ReportParams(inputs=[str(runs.beta)], output=str(tmp_path)))
    with pytest.raises(LadderError, match="--format pdf: choose one of html, md"):
        ReportParams(inputs=[str(runs.beta)], format="pdf")


def test_an_existing_file_is_replaced_only_with_overwrite(runs, tmp_path):
    notes = tmp_path / "notes.html"
    notes.write_text("<p>my notes</p>\n")
    done = ladder("report", str(runs.beta), "-o", str(notes), check=False)
    assert done.returncode == 2 and "notes.html: exists; choose a new path, or pass --overwrite" in done.stderr
    assert notes.read_text() == "<p>my notes</p>\n" and len(done.stderr.strip().splitlines()) == 1
    ladder("report", str(runs.beta), "-o", str(notes), "--overwrite")
    assert "by codeladder" in notes.read_text()


def test_no_interval_in_a_report_is_of_zero_width(runs, tmp_path):
    """A summary written before `ci95_method` kept a bootstrap interval ([1.0, 1.0] when every task passed):
    the report recomputes it; pass@k for k > 1 over identical per-task rates is never of zero width either."""
    from codeladder.analysis.load import load_runs
    from codeladder.report.collect import points_of

    old = tmp_path / "old"
    shutil.copytree(runs.alpha_standard, old)
    rows = [json.loads(line) for line in (old / "results.jsonl").open()]
    solved = {r["task_id"] for r in rows if r["passed"]}
    keep = [r for r in rows if r["task_id"] in solved and r["passed"]]  # only passing samples of solved tasks
    (old / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in keep))
    data = summary(old)
    data.pop("ci95_method", None)
    data["ci95"] = [1.0, 1.0]
    (old / "summary.json").write_text(json.dumps(data))
    (run,) = load_runs([old])
    for point in points_of(run):
        assert point.low < point.high and point.low <= point.value <= point.high, point
