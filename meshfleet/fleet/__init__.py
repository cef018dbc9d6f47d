"""The fleet file: reading it with positions, and the strict model of its words."""
