"""Kubeconfigs: reading contexts, cutting them to one, judging them for remote use, handing them to the sinks."""
