"""Consumers of a plan: rendered manifests, GitOps hand-off, summaries, shard proposals."""
