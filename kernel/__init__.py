"""The shared kernel below every domain: the database handle, errors, the clock, jobs, secrets.

It imports nothing of ours above it (held by ``make lint``).
"""
