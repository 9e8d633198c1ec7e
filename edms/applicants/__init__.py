"""Applicant accounts of the single-window portal (see ``services``)."""
