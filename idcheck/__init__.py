"""Identity check: ID document and selfie, liveness, face match, MRZ, human review."""
