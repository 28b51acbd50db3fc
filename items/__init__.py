"""Exam content after the exam: item analysis of released results (statistics about questions, not people)."""
