"""Load job-handler plugins named in VECFLOW_JOB_PLUGINS ("package.module:function", comma-separated).

Each function is called once with the JobEngine and registers handlers through its public
interface (`engine.register(operation, handler)`). This is how deployments add operations, and
how the tests run their own jobs in a real server process.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable

from vecflow.config import SettingsError
from vecflow.jobs.engine import JobEngine


def load(engine: JobEngine, specs: Iterable[str]) -> None:
    for spec in specs:
        module_name, _, attr = spec.partition(":")
        if not module_name or not attr:
            raise SettingsError(f"VECFLOW_JOB_PLUGINS entry {spec!r} must look like package.module:function")
        try:
            module = importlib.import_module(module_name)
        except ImportError as err:
            raise SettingsError(f"VECFLOW_JOB_PLUGINS: cannot import {module_name!r}: {err}") from err
        function = getattr(module, attr, None)
        if not callable(function):
            raise SettingsError(f"VECFLOW_JOB_PLUGINS: {module_name}.{attr} is not a function")
        function(engine)
