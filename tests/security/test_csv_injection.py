"""Issue 28 item 9: `maas stats --cost --csv` writes names a developer chose (organisation, application) into a
file an operator opens in a spreadsheet. An org name `=HYPERLINK(…)` or an app name `@SUM(…)` landed unescaped.
Now every text cell starting with = + - @ tab or CR gets a leading `'` and every cell is quoted (OWASP, "CSV
Injection"; maas_helpers/spreadsheet.py). Figure: 0 cells of the file start with a formula character.
"""

from __future__ import annotations

import csv
from pathlib import Path

from typer.testing import CliRunner

from maas_helpers.cli import app as cli_app

from harness.admin import Admin
from harness.sandbox import applied_kit, running

EVIL = ["=HYPERLINK(\"http://evil.invalid\",\"x\")", "@SUM(1+1)*cmd|' /C calc'!A0", "+1+1", "-2+3", "\t=1+1",
        "\r=1+1"]


def test_cost_csv_cells_never_start_a_formula(tmp_path: Path) -> None:
    with running(tmp_path / "state") as info:
        kit = applied_kit(info, "MaaS CSV Org", sections=["products", "plans"])
        admin = Admin(info)
        plans = [p["application_plan"] for p in admin.call("GET", "/admin/api/application_plans.json")["plans"]]
        priced = next(p for p in plans if float(p.get("cost_per_month") or 0) > 0)
        for n, name in enumerate(EVIL):
            account = admin.call("POST", "/admin/api/signup.json", data={
                "org_name": name, "username": f"evil{n}", "email": f"evil{n}@example.com",
                "password": "pw-Evil-123"})["account"]
            admin.call("POST", f"/admin/api/accounts/{account['id']}/applications.json",
                       data={"plan_id": priced["id"], "name": name})
        out = tmp_path / "cost.csv"
        result = CliRunner().invoke(cli_app, ["stats", "--csv", str(out), "--state-dir", str(info.state_dir)])
        assert result.exit_code == 0, result.output
        del kit

    with out.open(newline="") as fh:
        cells = [cell for row in csv.reader(fh) for cell in row]
    names = [c for c in cells if c.lstrip("'") in EVIL]
    assert len(names) >= len(EVIL), "the hostile names are not in the file: the check proved nothing"
    dangerous = [c for c in cells if c[:1] in ("=", "+", "@", "\t", "\r") or (c[:1] == "-" and not _number(c))]
    print(f"\n{len(cells)} cells, {len(names)} hostile names, {len(dangerous)} starting a formula")
    assert dangerous == []
    assert all(c.startswith("'") for c in names)


def _number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True
