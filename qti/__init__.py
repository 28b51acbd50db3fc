"""QTI exchange: exams as 1EdTech QTI 3.0 content packages out, QTI 3.0 and 2.x packages in.

``qti.safety`` opens an uploaded package (a hostile zip) within limits, ``qti.writer`` builds a package from an
:class:`~exams.questions.ExamSpec`, ``qti.reader`` reads one back into exam-file data with every item it cannot
map listed, and ``qti.services`` stores an import all or nothing.
"""
