"""`pulumi up` / `pulumi preview`: plan the whole fleet, apply this stack's shard of it."""

from pathlib import Path

import pulumi

import components

settings = components.read_settings(pulumi.Config())
project_dir = Path(__file__).resolve().parent
loaded = components.load(settings, project_dir)
for key, value in components.deploy(loaded, settings, project_dir).items():
    pulumi.export(key, value)
