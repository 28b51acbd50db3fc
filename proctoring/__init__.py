"""Proctoring: the WebRTC media engine and recording, live monitoring, flags, proctor actions and review."""
