"""Outgoing documents drafted from the DOCX templates in ``config/templates``."""
