"""Deputies for a date range (see ``services``)."""
