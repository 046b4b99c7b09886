"""Generate ``schemas/``: one JSON Schema per public topic and an AsyncAPI 3.0 document.

The committed files are the contract users read; a test regenerates them and
fails when they drift from the models.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from omniroute.contract.topics import PUBLIC_TOPICS, PublicTopic

SCHEMA_BASE_URI = "https://omniroute.dev/schemas/"
ASYNCAPI_FILE = "asyncapi.yaml"
CONTRACT_VERSION = "1.0.0"


def schema_filename(topic: PublicTopic) -> str:
    """``omniroute.inbound.v1`` → ``omniroute.inbound.v1.schema.json``."""
    return f"{topic.name}.schema.json"


def topic_json_schema(topic: PublicTopic) -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) a payload on ``topic`` validates against."""
    schema = topic.model.model_json_schema(mode="validation")
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_BASE_URI + schema_filename(topic),
        "x-topic": topic.name,
        "x-key": topic.key,
        **schema,
    }


def asyncapi_document() -> dict[str, Any]:
    """An AsyncAPI 3.0 document describing every public topic."""
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    for topic in PUBLIC_TOPICS:
        channel_id = topic.slug.replace("-", "_")
        message_name = topic.model.__name__
        channels[channel_id] = {
            "address": topic.name,
            "title": topic.name,
            "description": f"{topic.summary} Key: {topic.key}. "
            f"Produced by {topic.producers}; consumed by {topic.consumers}.",
            "messages": {
                message_name: {
                    "name": message_name,
                    "contentType": "application/json",
                    "payload": {"$ref": f"./{schema_filename(topic)}"},
                    "bindings": {"kafka": {"key": {"type": "string", "description": topic.key}}},
                }
            },
        }
        operations[f"publish_{channel_id}"] = {
            "action": "send",
            "channel": {"$ref": f"#/channels/{channel_id}"},
            "summary": f"{topic.producers} publish {message_name}",
        }
        operations[f"consume_{channel_id}"] = {
            "action": "receive",
            "channel": {"$ref": f"#/channels/{channel_id}"},
            "summary": f"{topic.consumers} consume {message_name}",
        }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "omniroute public topics",
            "version": CONTRACT_VERSION,
            "description": "The Kafka topics omniroute publishes and consumes. "
            "Payloads are UTF-8 JSON; every payload carries event_id, occurred_at, "
            "workspace and version.",
        },
        "defaultContentType": "application/json",
        "servers": {
            "local": {
                "host": "127.0.0.1:9092",
                "protocol": "kafka",
                "description": "The broker `omniroute up` starts.",
            }
        },
        "channels": channels,
        "operations": operations,
    }


def render_all() -> dict[str, str]:
    """Every file of ``schemas/`` by name, rendered as committed."""
    files = {
        schema_filename(t): json.dumps(topic_json_schema(t), indent=2, sort_keys=True) + "\n"
        for t in PUBLIC_TOPICS
    }
    files[ASYNCAPI_FILE] = yaml.safe_dump(asyncapi_document(), sort_keys=False, width=100)
    return files


def write_all(directory: Path) -> list[Path]:
    """Write every file of ``schemas/`` into ``directory``; return the paths written."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in render_all().items():
        path = directory / name
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written
