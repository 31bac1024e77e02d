"""The HTTP service (FastAPI on uvicorn) over deploy.predictor; start it with tools/serve.py."""
from deploy.server.app import Settings, create_app, create_app_from_env

__all__ = ["Settings", "create_app", "create_app_from_env"]
