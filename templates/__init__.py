"""The jinja2 templates of ``ractor-derive gen`` (in the wheel: ractor_derive.templates)."""
