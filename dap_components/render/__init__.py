"""Pure functions from typed values to file text (no Pulumi types in or out)."""
