"""The components' fixtures, for running the program under mocks and checking it against the rules."""

from tests.components.conftest import isolated_env

__all__ = ["isolated_env"]
