"""Plan against plan: what changes where, which risks it carries, and its text, markdown and JSON forms."""

from meshfleet.diff.compare import (
    ABSENT,
    DEFAULT_MAX_DELETE_SHARE,
    MARKDOWN_BUDGET,
    MARKDOWN_FIELD_CAP,
    MARKDOWN_ROW_CAP,
    REDACTED,
    TEXT_FIELD_CAP,
    PlanDiff,
    as_json,
    diff,
    field_changes,
    markdown,
    text,
)

__all__ = [
    "ABSENT",
    "DEFAULT_MAX_DELETE_SHARE",
    "MARKDOWN_BUDGET",
    "MARKDOWN_FIELD_CAP",
    "MARKDOWN_ROW_CAP",
    "REDACTED",
    "TEXT_FIELD_CAP",
    "PlanDiff",
    "as_json",
    "diff",
    "field_changes",
    "markdown",
    "text",
]
