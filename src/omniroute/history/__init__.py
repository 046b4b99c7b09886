"""History: the sink that writes every public event to PostgreSQL, retention and privacy."""
