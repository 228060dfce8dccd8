"""The verb table: one entry gives a verb its CLI command, its `ladder ls verb` row and, when it declares a stage,
its recipe stage; every verb of the table is reachable from `ladder --help`, every stage from a recipe."""

import json
from pathlib import Path
from typing import ClassVar

import pytest
import typer

from codeladder.cli import main as cli_main
from codeladder.listing import LsParams, list_entries
from codeladder.params import OUTPUT, VerbParams, option
from codeladder.pipeline import RecipePlanParams, RecipeRunParams, plan_recipe, run_recipe
from codeladder.pipeline.stages import StageKind
from codeladder.registry import registry
from codeladder.verbs import PANELS, Verb, add_verb, all_verbs, remove_verb
from conftest import run_cli


class GreetParams(VerbParams):
    """Write a greeting into a folder (a toy verb: the verb table's test)."""

    verb: ClassVar[str] = "greet"
    name: str = option("world", "whom to greet")
    output: Path = option(..., "the folder to write report.json into", flags=OUTPUT)


def greet(params: GreetParams) -> dict:
    params.output.mkdir(parents=True, exist_ok=True)
    report = {"greeting": f"hello {params.name}", "letters": len(params.name)}
    (params.output / "report.json").write_text(json.dumps(report))
    return report


@pytest.fixture
def toy_verb():
    verb = add_verb(Verb("greet", "inspect", GreetParams, greet,
                         stages={"greet": StageKind(inputs=(), results=("greeting", "letters"))}))
    yield verb
    remove_verb("greet")


def _command(app: typer.Typer, name: str):
    command = typer.main.get_command(app)
    for part in name.split():
        command = command.commands[part]
    return command


def test_every_verb_is_reachable_from_help_and_every_stage_from_a_recipe():
    app, verbs = cli_main.build_app(), all_verbs()
    assert len(verbs) >= 37 and all(verb.panel in PANELS for verb in verbs)
    for verb in verbs:
        assert " ".join(_command(app, verb.name).help.split()).startswith(verb.summary), verb.name
        assert verb.name in registry("verb")
    stage_names = {name for verb in verbs for name in verb.stages}
    assert stage_names == set(registry("stage").names())
    assert {"eval", "finetune", "dpo", "compare", "merge", "prune", "quantize", "data pairs"} <= stage_names


def test_one_table_entry_makes_a_command_a_listing_and_a_stage(toy_verb, tmp_path, capsys):
    code, out, err = run_cli(capsys, "greet", "--name", "ladder", "-o", str(tmp_path / "cli"))
    assert code == 0, err
    assert json.loads(out) == {"greeting": "hello ladder", "letters": 6}  # no renderer of its own: JSON
    assert json.loads((tmp_path / "cli" / "report.json").read_text())["letters"] == 6
    listed = {(row["kind"], row["name"]) for kind in ("verb", "stage") for row in list_entries(LsParams(kind=kind))}
    assert {("verb", "greet"), ("stage", "greet")} <= listed

    recipe = tmp_path / "greet.yaml"
    recipe.write_text("name: greet\nstages:\n  - name: hello\n    verb: greet\n    config: {name: recipes}\n"
                      "    gates: ['letters >= 7']\n")
    assert plan_recipe(RecipePlanParams(recipe=str(recipe)))["runnable"]
    result = run_recipe(RecipeRunParams(recipe=str(recipe), output=tmp_path / "run"))
    assert result["stopped"] is None
    stage = result["lineage"]["stages"][0]
    assert stage["status"] == "done" and stage["gates"][0]["value"] == 7 and stage["gates"][0]["passed"]

    recipe.write_text(recipe.read_text().replace("letters", "words"))  # a field the verb never declared
    with pytest.raises(Exception, match="never hold 'words'"):
        plan_recipe(RecipePlanParams(recipe=str(recipe)))


def test_a_removed_verb_leaves_no_command_and_no_stage(toy_verb):
    remove_verb("greet")
    try:
        assert "greet" not in registry("verb") and "greet" not in registry("stage")
        assert "greet" not in typer.main.get_command(cli_main.build_app()).commands
    finally:
        add_verb(toy_verb)  # the fixture removes it again


def test_a_verb_in_no_panel_is_refused():
    with pytest.raises(ValueError, match="panel 'misc'"):
        add_verb(Verb("odd", "misc", GreetParams, greet))


def test_a_stage_a_plugin_adds_straight_to_the_registry_still_runs(tmp_path):
    from codeladder.pipeline.stages import STAGES  # the name earlier releases told plug-ins to use

    STAGES.add("greet-old", "a stage added the earlier way", greet, params=GreetParams,
               kind=StageKind(inputs=(), results=("letters",)))
    try:
        recipe = tmp_path / "old.yaml"
        recipe.write_text("name: old\nstages:\n  - name: hello\n    verb: greet-old\n    gates: ['letters == 5']\n")
        result = run_recipe(RecipeRunParams(recipe=str(recipe), output=tmp_path / "run"))
        assert result["stopped"] is None and result["lineage"]["stages"][0]["gates"][0]["passed"]
    finally:
        STAGES.remove("greet-old")
