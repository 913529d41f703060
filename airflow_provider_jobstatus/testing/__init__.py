"""Testing aids: the vendor simulator and its pytest plugin.

Nothing here is imported by the provider itself. Importing this package is cheap: the simulator
(Starlette, uvicorn) loads only when :mod:`airflow_provider_jobstatus.testing.simulator` is imported.
"""
