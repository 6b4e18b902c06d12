# As in the official image: the WSGI entry point for gunicorn (run_pgadmin:app).
import builtins
builtins.SERVER_MODE = None

from pgAdmin4 import app  # noqa: E402,F401
