"""Pictures in docs/ are generated from the code: a stale one fails here, with the command that redraws it."""

from __future__ import annotations

import importlib.util
import os
import shutil
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from types import ModuleType
from typing import get_args

import pytest

from api_engine.service.events import OutputKind

FLOW_SCRIPT = Path(__file__).resolve().parents[1] / "docs" / "flow.py"


@pytest.fixture(scope="module")
def flow() -> ModuleType:
    """docs/flow.py is a script, not a package module: load it from its path."""
    spec = importlib.util.spec_from_file_location("docs_flow", FLOW_SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the script loads
    try:
        spec.loader.exec_module(module)
    finally:
        del sys.modules[spec.name]
    return module


def test_message_flow_picture_matches_the_code(flow: ModuleType) -> None:
    problem = flow.check()
    assert problem is None, f"{problem}\nThe message-flow picture is stale: run `python docs/flow.py`."


def test_every_output_kind_has_a_topic_a_model_and_a_reader(flow: ModuleType) -> None:
    derived = flow.derive_flow()
    kinds = set(get_args(OutputKind))
    assert set(derived.topic_for) == kinds
    assert all(derived.topic_for.values())
    assert len(set(derived.topic_for.values()) | {derived.inbound}) == len(kinds) + 1, "topics must differ"
    assert set(derived.model_for) == kinds
    assert set(derived.reader_for) == kinds


def test_check_reports_a_stale_picture(flow: ModuleType, tmp_path: Path) -> None:
    stale = tmp_path / "stale.svg"
    stale.write_text('<svg xmlns="http://www.w3.org/2000/svg"><metadata id="flow-dot"><![CDATA[digraph old {}]]>'
                     "</metadata></svg>", encoding="utf-8")
    problem = flow.check(stale)
    assert problem is not None and "python docs/flow.py" in problem


def test_rendered_picture_is_svg_naming_every_topic(flow: ModuleType, tmp_path: Path) -> None:
    if shutil.which("dot") is None:
        message = "the graphviz `dot` binary is missing (apt-get install graphviz)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    out = tmp_path / "message-flow.svg"
    assert flow.main(["--output", str(out)]) == 0
    root = ET.fromstring(out.read_text(encoding="utf-8"))  # valid XML, or this raises
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    texts = " ".join(t.text or "" for t in root.iter("{http://www.w3.org/2000/svg}text"))
    derived = flow.derive_flow()
    for topic in [derived.inbound, *derived.topic_for.values()]:
        assert topic in texts, f"{topic} is not drawn"
    assert flow.check(out) is None
