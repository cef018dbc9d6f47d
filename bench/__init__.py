"""`make bench`: what plan, render and Pulumi registration cost on large fleets, against their floors.

Why: absolute times say little across machines; each number here is set against the cheapest way
to do the same work on the same machine in the same run (libyaml writing the same files, kubectl
kustomize building the same directories, bare Pulumi resources for the same objects), so the ratios
travel and a regression shows as a ratio that moved.
"""
