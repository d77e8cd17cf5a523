"""The README's launch commands for Dask, Dataflow, Flink and Spark, checked as far as possible offline.

Dataflow needs a cloud project and the Flink/Spark job servers are jars from Maven, so these runs cannot happen here.
What can be checked: every documented command parses (our flags and Beam's, none discarded as unknown), names the
runner it claims, points at files that exist (``setup.py``, ``requirements-worker.txt``), and the pipeline it builds
translates to Beam's portable Runner API (what Dataflow Runner v2 and the Flink/Spark job servers receive) and back.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import apache_beam as beam
import pytest
from apache_beam.options.pipeline_options import PipelineOptions, SetupOptions, StandardOptions

from pipelines.run import build_pipeline, parse_args

REPO = Path(__file__).resolve().parents[2]


def _readme_commands() -> list[list[str]]:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    section = text.split("### Running at scale", 1)[1].split("\n## ", 1)[0]
    commands = []
    for block in re.findall(r"```text\n(.*?)```", section, re.S):
        for line in block.replace("\\\n", " ").splitlines():
            if line.strip().startswith("ltsc-pipeline"):
                commands.append(shlex.split(line)[1:])
    return commands


COMMANDS = _readme_commands()


def _runner(argv: list[str]) -> str | None:
    return PipelineOptions(parse_args(argv)[1]).view_as(StandardOptions).runner


def test_readme_documents_every_engine():
    runners = {_runner(argv) for argv in COMMANDS}
    assert {None, "DaskRunner", "DataflowRunner", "FlinkRunner", "SparkRunner", "PortableRunner"} <= runners


@pytest.mark.parametrize("argv", COMMANDS, ids=lambda a: str(_runner(a)))
def test_readme_launch_command_parses_and_translates_to_the_runner_api(argv, tmp_path, monkeypatch):
    import apache_beam.runners.dask.dask_runner  # noqa: F401 - registers the Dask options

    config, beam_args = parse_args(argv)
    options = PipelineOptions(beam_args)
    known = options.get_all_options(retain_unknown_options=False)
    everything = options.get_all_options(retain_unknown_options=True)
    assert set(everything) == set(known), f"options Beam does not know: {set(everything) - set(known)}"
    setup = options.view_as(SetupOptions)
    monkeypatch.chdir(REPO)  # the README says: run from the repository root
    for path in (setup.setup_file, setup.requirements_file):
        assert path is None or Path(path).is_file(), f"{path} does not exist"

    # The graph, on local paths (no cloud or HDFS here), translated as a portable runner would receive it.
    local, _ = parse_args(["--output", str(tmp_path / "out")])
    p = beam.Pipeline(runner="FnApiRunner", options=options)
    build_pipeline(p, local)
    proto = p.to_runner_api()
    labels = {t.unique_name for t in proto.components.transforms.values()}
    assert {"read_shards", "write_shards", "finalize_dataset/finalize"} <= labels
    again = beam.Pipeline.from_runner_api(proto, p.runner, options)
    assert again.to_runner_api().components.transforms.keys() == proto.components.transforms.keys()
    assert config.output.startswith(("/", "gs://", "hdfs://"))


def test_worker_requirements_name_what_workers_import():
    lines = (REPO / "requirements-worker.txt").read_text().splitlines()
    names = {ln.split("#")[0].strip() for ln in lines} - {""}
    assert {"tokenizers", "tiktoken", "matplotlib"} <= names
