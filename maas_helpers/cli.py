"""The `maas` command for trainers and CI."""

from __future__ import annotations

import typer

from maas_helpers.cli_sandbox import sandbox_app

app = typer.Typer(help="Model as a Service kit: 3scale + OpenShift AI, or the local sandbox.", no_args_is_help=True)
app.add_typer(sandbox_app, name="sandbox")

if __name__ == "__main__":
    app()
