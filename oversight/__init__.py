"""The proctoring AI as the EU AI Act asks: the detector registry, its technical documentation, the detector-run
log and the oversight figures. Sits above the domains whose detectors it describes (proctoring, idcheck)."""
