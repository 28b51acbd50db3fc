"""aufsicht as an LTI 1.3 tool: launches from a learning platform, deep linking, roster, grades, proctoring.

The tool side is written on joserfc (the JOSE library the OpenID sign-in uses already) rather than PyLTI1p3:
PyLTI1p3 refuses the LTI Proctoring Services message types (LtiStartProctoring, LtiEndAssessment) and has no
LtiStartAssessment, so one implementation validates every message type the same way.
"""
