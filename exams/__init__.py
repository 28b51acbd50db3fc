"""Exams: question types and grading, exam import/export, verifiable certificates.

The pure domain core lives in ``questions``, ``schema``, ``rules``, ``credentials``
and ``certificate_pdf``; ``models`` (the database side) is owned by the app layer.
"""
