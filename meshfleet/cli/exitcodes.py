"""The exit codes of `meshfleet`, one place for the parser, the commands and the docs' tests."""

EXIT_OK = 0
EXIT_USER = 1
"""A problem in the user's input: a fleet (reported with file:line), a kubeconfig, a missing file."""
EXIT_CHANGED = 1
"""`diff --exit-code`: something changes, as with `git diff --exit-code`."""
EXIT_USAGE = 2
"""Bad usage: a wrong option or combination, an unknown cluster or git revision, a refused output path."""
EXIT_RISK = 3
"""`diff --fail-on-risk`: the diff names a risk."""
EXIT_BUG = 70
EXIT_INTERRUPTED = 130
EXIT_BROKEN_PIPE = 141
"""What a shell reports for a process killed by SIGPIPE: the reader (e.g. `head`) stopped reading."""
