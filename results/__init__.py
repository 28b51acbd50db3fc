"""Results out: the exam office's results file (CSV, XLSX), institution API tokens and signed webhooks.

A package of its own above the domains (beside ``items/`` and ``oversight/``): it reads ``exams`` (results, rosters,
the chain of trust) and ``privacy`` (the staff access log) and is told of result events through
``exams.attempts.ON_EVENT``, so no domain knows of it.
"""
