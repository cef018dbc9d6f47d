"""Plan against plan: what changes where, which risks it carries, and its text, markdown and JSON forms.

The modules, by concern: `services` compares the plans' typed views (generically over their
fields), `objects` compares objects field by field, `risks` names what can break, `compare` puts
them together in a `PlanDiff`; `describe` words each change as a structured phrase, and `to_text`,
`to_markdown` (its page under a budget in `markdown_page`, the effective view's blocks in
`markdown_routes`), `to_json` render it.
"""

from meshfleet.diff.compare import DEFAULT_MAX_DELETE_SHARE, PlanDiff, diff
from meshfleet.diff.fields import ABSENT, REDACTED, FieldChange, field_changes, view_changes
from meshfleet.diff.risks import Risk
from meshfleet.diff.to_json import as_json
from meshfleet.diff.to_markdown import (
    MARKDOWN_BUDGET,
    MARKDOWN_FIELD_CAP,
    MARKDOWN_MIN_BUDGET,
    MARKDOWN_ROW_CAP,
    markdown,
)
from meshfleet.diff.to_text import TEXT_FIELD_CAP, text

__all__ = [
    "ABSENT",
    "DEFAULT_MAX_DELETE_SHARE",
    "MARKDOWN_BUDGET",
    "MARKDOWN_FIELD_CAP",
    "MARKDOWN_MIN_BUDGET",
    "MARKDOWN_ROW_CAP",
    "REDACTED",
    "TEXT_FIELD_CAP",
    "FieldChange",
    "PlanDiff",
    "Risk",
    "as_json",
    "diff",
    "field_changes",
    "markdown",
    "text",
    "view_changes",
]
