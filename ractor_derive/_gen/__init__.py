"""``ractor-derive gen``: parse (import the declarations) -> IR -> render (jinja2 templates)."""
