"""The one test harness of tests/, benchmarks/ and tools/threescale_suite.py.

- `harness.ports`: free loopback ports (a single port, or a sandbox `--port` range);
- `harness.sandbox`: a sandbox on free ports in a given state dir (`start`, `running`), and a sandbox of
  one's own with the kit's catalogue applied (`applied_kit`);
- `harness.admin`: the Admin/Master API over plain HTTP with the sandbox's tokens (`AdminHTTP`, `Admin`);
- `harness.loopback`: products built through the Admin API as a tenant would, a raw HTTP/1.1 client, bench lines;
- `harness.secrets`: the secret-looking patterns, the tools/check_secrets.py checker, masking checks;
- `harness.plugin`: the pytest fixtures (`sandbox`, `fresh_sandbox`, `start_sandbox`, `admin_http`, …),
  registered by tests/conftest.py.

Importable as `harness` because pytest puts tests/ on sys.path (`pythonpath` in pyproject) and the benchmark
scripts do the same; tests/ itself must stay without an `__init__.py` (the 3scale-api wheel ships a `tests`).
"""
