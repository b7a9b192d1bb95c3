"""benchmarks/results_table.py and the README: the README's results table is the script's output
on benchmarks/results.json, so every number the README shows is a measured one, and `--write`
brings the README back in line after results.json changes."""
import importlib.util
import json
import os

import pytest

ROOT = os.path.join(os.path.dirname(__file__), "..", "..")
SCRIPT = os.path.join(ROOT, "benchmarks", "results_table.py")
README = os.path.join(ROOT, "README.md")
RESULTS = os.path.join(ROOT, "benchmarks", "results.json")


@pytest.fixture(scope="module")
def results_table():
    spec = importlib.util.spec_from_file_location("results_table", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_readme_table_is_the_scripts_output_on_results_json(results_table):
    """A number typed into the README by hand, or a results.json not carried over, fails here
    (fix: `.venv/bin/python benchmarks/results_table.py --write`)."""
    with open(README) as source:
        readme = source.read()
    with open(RESULTS) as source:
        results = json.load(source)
    assert readme.count(results_table.BEGIN) == 1 and readme.count(results_table.END) == 1
    assert results_table.readme_block(readme) == results_table.block(results)


def test_every_variant_is_a_row_with_its_numbers_and_the_machine_is_named(results_table):
    with open(RESULTS) as source:
        results = json.load(source)
    text = results_table.table(results)
    rows = [line for line in text.splitlines() if line.startswith("| ")][1:]  # Past the header.
    assert len(rows) == len(results["variants"])
    for row, variant in zip(rows, results["variants"]):
        assert row.count(" | ") == 3, row  # Four cells: no `|` leaked out of a command.
        assert row.startswith(f"| {variant['name']} |")
        assert f"{variant['test_accuracy']:.4f}" in row
        assert f"{variant['pipeline_seconds']} s" in row
    assert results["machine"] in text


def test_write_replaces_only_the_block(results_table, tmp_path, capsys):
    """The rest of the README is left byte for byte; a changed results.json shows up."""
    with open(RESULTS) as source:
        results = json.load(source)
    results["variants"][0]["test_accuracy"] = 0.5
    results["machine"] = "a test machine"
    changed = tmp_path / "results.json"
    changed.write_text(json.dumps(results))
    before, after = "# Title\n\ntext before\n\n", "\ntext after\n"
    readme = tmp_path / "README.md"
    readme.write_text(f"{before}{results_table.BEGIN}\n| stale |\n{results_table.END}\n{after}")

    results_table.main(["--write", "--results", str(changed), "--readme", str(readme)])

    written = readme.read_text()
    assert written == before + results_table.block(results) + after
    assert "0.5000" in written and "a test machine" in written and "| stale |" not in written
    assert capsys.readouterr().out.strip() == str(readme)


def test_write_refuses_a_readme_without_the_markers(results_table, tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text("# no table here\n")
    with pytest.raises(ValueError, match="no block"):
        results_table.main(["--write", "--readme", str(readme)])
    assert readme.read_text() == "# no table here\n"


def test_missing_optional_fields_leave_a_dash_and_excluded_variants_say_why(results_table):
    text = results_table.table({"variants": [
        {"name": "bare", "test_accuracy": 0.9},
        {"name": "unplotted", "command": "make run", "test_accuracy": 0.91, "auc": 0.97,
         "pipeline_seconds": 700.5, "plot": False},
        {"name": "noted", "command": "the old make run (fresh clone)", "test_accuracy": 0.92,
         "pipeline_seconds": 800, "plot": False, "note": "not a timing"},
    ]})
    assert "| bare | – | 0.9000 | – |" in text
    assert "| unplotted | `make run` | 0.9100 (0.9700) | 700.5 s (not comparable) |" in text
    assert "| noted | the old `make run` (fresh clone) | 0.9200 | 800 s (not a timing) |" in text
    assert "No machine recorded" in text
