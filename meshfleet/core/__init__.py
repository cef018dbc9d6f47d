"""The pure core: topology (who exports and imports what, and the checks) and the plan."""
