"""The older names of :mod:`workbench.gui.jobs` (the one background-job mechanism).

``TaskRunner`` is :class:`~workbench.gui.jobs.JobRunner`, ``Task`` is
:class:`~workbench.gui.jobs.Job`, ``TaskContext`` is :class:`~workbench.gui.jobs.JobContext`,
``TaskCancelled`` is :class:`~workbench.gui.jobs.JobCancelled`; new code imports from
:mod:`workbench.gui.jobs`.
"""

from __future__ import annotations

from workbench.gui.jobs import Job as Task
from workbench.gui.jobs import JobCancelled as TaskCancelled
from workbench.gui.jobs import JobContext as TaskContext
from workbench.gui.jobs import JobRunner as TaskRunner

__all__ = ["Task", "TaskCancelled", "TaskContext", "TaskRunner"]
