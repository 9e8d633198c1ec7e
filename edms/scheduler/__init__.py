"""Periodic jobs, run once per period across every process (see ``services``)."""

from edms.scheduler.services import (
    Job,
    register_job,
    registered_jobs,
    run_due_jobs,
    unregister_job,
)

__all__ = ["Job", "register_job", "registered_jobs", "run_due_jobs", "unregister_job"]
