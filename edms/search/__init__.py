"""Full-text search of the registry: text extraction, an index (Whoosh on one machine,
PostgreSQL full-text search beyond), queries filtered by what the user may see."""
