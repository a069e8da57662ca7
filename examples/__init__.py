"""Small programs that run and type-check."""
