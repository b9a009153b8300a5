"""Only what pyproject.toml cannot say: the data directories at the repository root ship inside the
`maas_resources` package of the wheel (`portal/` → `maas_resources/portal/` …) without moving them, so the
kit works when installed outside the checkout. Which files of each directory ship: pyproject's package-data."""

from setuptools import find_namespace_packages, setup

DATA_DIRS = ("portal", "policies", "manifests", "notebooks")  # = maas_resources.RESOURCES

setup(
    packages=find_namespace_packages(include=["maas_helpers*", "maas_sandbox*", "maas_resources"])
    + [f"maas_resources.{name}" for name in DATA_DIRS],
    package_dir={f"maas_resources.{name}": name for name in DATA_DIRS},
)
