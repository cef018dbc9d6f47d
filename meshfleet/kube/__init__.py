"""Kubeconfigs: reading contexts, cutting them to one, handing them to the renderer."""
