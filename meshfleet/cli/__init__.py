"""The `meshfleet` command line: `parser` (grammar and usage errors), `commands` (what each does,
importing the pipeline lazily), `terminal` (colour and progress), `main` (exit codes)."""

from meshfleet.cli.main import main

__all__ = ["main"]
