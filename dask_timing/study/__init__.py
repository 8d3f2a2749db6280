"""The study workflow, above every other layer: a plan of runs, each in a fresh process, then the analysis.

``plan`` makes and checks the sweep, ``manifest`` keeps it for ``--resume``,
``runner`` spawns and signals the runs, records them, and ends with the
analysis (``analysis``, ``present``) and, with several environments, their
comparison; what it says as it goes, an observer prints
(``present.study.StudyConsole``).  ``bisect`` runs such studies one after the
other to find the release, commit or interpreter that made startup slower.
"""
