"""The wire protocol of ractor_cluster: .proto sources and their generated modules.

Regenerate with ``python scripts/gen_protos.py`` (``--check`` reports drift); never edit the
``*_pb2.py`` files by hand.
"""
