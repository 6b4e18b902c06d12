"""Pure functions from typed values to file text, and where those files go inside containers."""

SECRETS_DIR = "/run/secrets/dap"  # uploaded secrets, in every container the program declares
