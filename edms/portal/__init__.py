"""The single-window portal: the catalogue of public e-services, their forms and reports."""
