"""meshfleet: one fleet file, every member cluster's multi-cluster mesh objects."""

__version__ = "0.1.0"
