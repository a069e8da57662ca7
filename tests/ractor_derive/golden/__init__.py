"""Inputs of the codegen golden tests; ``expected/`` holds their checked-in output."""
