"""The exit codes of `meshfleet`, one place for the parser, the commands and the docs' tests."""

EXIT_OK = 0
EXIT_USER = 1
"""A problem in the user's input (reported with file:line), or with `diff --exit-code`: something changed."""
EXIT_CHANGED = 1
EXIT_USAGE = 2
EXIT_RISK = 3
EXIT_BUG = 70
EXIT_INTERRUPTED = 130
EXIT_BROKEN_PIPE = 141
"""What a shell reports for a process killed by SIGPIPE: the reader (e.g. `head`) stopped reading."""
