"""Exams, attempts, grading, appeals and certificates."""
