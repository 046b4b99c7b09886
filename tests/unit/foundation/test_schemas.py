"""The committed schemas/ directory is exactly what the models generate."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import yaml

from omniroute.contract import PUBLIC_TOPICS
from omniroute.contract.export import ASYNCAPI_FILE, render_all, schema_filename

SCHEMAS = Path(__file__).resolve().parents[3] / "schemas"


class TestCommittedSchemas:
    def test_committed_files_match_the_models(self) -> None:
        """Run `omniroute schemas export` after changing a model; this test says which file drifted."""
        rendered = render_all()
        on_disk = {p.name for p in SCHEMAS.iterdir() if p.is_file()}
        assert on_disk == set(rendered), "schemas/ holds files the models do not generate"
        for name, text in rendered.items():
            assert (SCHEMAS / name).read_text(encoding="utf-8") == text, f"{name} is out of date"

    def test_every_public_topic_has_a_valid_draft_2020_12_schema(self) -> None:
        """Each schema is itself valid JSON Schema and names its topic."""
        for topic in PUBLIC_TOPICS:
            schema = json.loads((SCHEMAS / schema_filename(topic)).read_text())
            jsonschema.Draft202012Validator.check_schema(schema)
            assert schema["x-topic"] == topic.name

    def test_asyncapi_document_lists_every_topic(self) -> None:
        """The AsyncAPI 3.0 document has one channel per public topic, with its schema file."""
        document = yaml.safe_load((SCHEMAS / ASYNCAPI_FILE).read_text())
        assert document["asyncapi"] == "3.0.0"
        addresses = {c["address"] for c in document["channels"].values()}
        assert addresses == {t.name for t in PUBLIC_TOPICS}
        for channel in document["channels"].values():
            (message,) = channel["messages"].values()
            assert (SCHEMAS / message["payload"]["$ref"]).exists()
