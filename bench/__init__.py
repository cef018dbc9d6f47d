"""`make bench`: what each meshfleet command costs users on large fleets, against its floor.

Why: absolute times say little across machines, and a function timed inside a warm interpreter says
little about the command a user waits for. Each command runs here as a whole process and is set
against the cheapest way to do the same work on the same machine in the same rounds (libyaml loading
the same file, the same bytes written to the same files and synced alike, two plans for a diff,
kubectl kustomize building the same directories), so the ratios travel and a regression shows as a
ratio that moved.

Modules: fleets (sizes and the diffed change), procs (one timed process), io_floor and inproc (run
as processes), measure (the rounds), targets (ratios, spreads, verdicts), profile (why a target is
missed), report (tables and the README block), registration (Pulumi under mocks), run (`make bench`).
"""
