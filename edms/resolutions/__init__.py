"""Resolutions on documents with execution control, and acquaintance lists (see ``services``)."""
