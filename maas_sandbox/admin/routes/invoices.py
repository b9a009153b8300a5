"""Billing API (porta's Finance API) and the Master API billing trigger.

porta 3scale-2.16-stable: config/routes.rb (`scope module: 'finance'` → `namespace :api`: invoices index/show/
update/create with `put :state`, line_items index/create/destroy; `api/accounts/:id/invoices` index/show; Master
`providers/:id/billing_jobs` and `providers/:id/accounts/:id/billing_jobs` create),
app/controllers/finance/api/invoices_controller.rb (`state` maps `cancel` to `cancelled` and fires the
transition that leads there; create takes `account_id` and `invoice[period]`; update permits period and
friendly_id), app/controllers/master/api/finance/billing_jobs_controller.rb (`date` YYYY-MM-DD, 400
"Invalid date", 202 Accepted), app/representers/invoice_representer.rb and line_item_representer.rb.

The sandbox's billing run is synchronous: the 202 comes after the invoices exist. A job for date D bills the
month before D (porta's postpaid day-1 run closes the previous month). Charging (`charge`, payment
gateways) is not emulated.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse, Response

from maas_sandbox.admin import domain_billing as billing
from maas_sandbox.admin.conventions import (
    BadRequest,
    NotFound,
    Unprocessable,
    admin_router,
    deleted,
    link,
    master_api_router,
    page_of,
    path_id,
    read_params,
    required_missing,
    sandbox_of,
    wrapped,
)
from maas_sandbox.admin.routes.accounts import account_of
from maas_sandbox.context import Sandbox

router = admin_router(tags=["billing"])
master_router = master_api_router(tags=["billing"])
Obj = dict[str, Any]
PER_PAGE = 20
FRIENDLY_ID = re.compile(r"\d{4}(-\d{2})?-\d{8}")  # invoice.rb


def invoice_view(sandbox: Sandbox, invoice: Obj) -> Obj:
    """invoice_representer.rb: representable leaves out nil properties unless `render_nil` (only `vat_rate` has
    it), so an open invoice has no `paid_at`, `due_on` or `issued_on` keys at all."""
    cost = float(billing.invoice_cost(sandbox, invoice["id"]))
    base = sandbox.admin_url
    dates = {k: invoice[k] for k in ("paid_at", "due_on", "issued_on") if invoice.get(k) is not None}
    return {
        "id": invoice["id"], "friendly_id": invoice["friendly_id"], "created_at": invoice["created_at"],
        "updated_at": invoice["updated_at"], "state": invoice["state"], **dates, "currency": invoice["currency"],
        "cost": cost, "vat_rate": invoice["vat_rate"], "vat_amount": 0.0, "cost_without_vat": cost,
        "period": invoice["period"], "creation_type": invoice["creation_type"],
        "links": [
            link("account", f"{base}/admin/api/accounts/{invoice['buyer_account_id']}"),
            link("self", f"{base}/api/invoices/{invoice['id']}"),
            link("payment_transactions", f"{base}/api/invoices/{invoice['id']}/payment_transactions"),
            link("line_items", f"{base}/api/invoices/{invoice['id']}/line_items"),
        ],
    }


def line_item_view(sandbox: Sandbox, invoice: Obj, item: Obj) -> Obj:
    base = sandbox.admin_url
    view = {k: item.get(k) for k in ("id", "name", "description", "quantity", "metric_id", "type", "contract_id",
                                     "contract_type", "plan_id", "created_at", "updated_at")}
    view["cost"] = float(billing.money(item["cost"]))
    view["links"] = [link("invoice", f"{base}/api/accounts/{invoice['buyer_account_id']}/invoices/{invoice['id']}")]
    if item.get("contract_id"):
        view["links"].insert(0, link("application", f"{base}/admin/api/accounts/{invoice['buyer_account_id']}/"
                                                    f"applications/{item['contract_id']}"))
    return view


def _one(sandbox: Sandbox, invoice: Obj, status: int = 200) -> JSONResponse:
    return JSONResponse({"invoice": invoice_view(sandbox, invoice)}, status_code=status)


def _list(sandbox: Sandbox, params: Obj, invoices: list[Obj]) -> JSONResponse:
    """index with porta's search params `state` and `month` (YYYY-MM), newest first, 20 per page by default."""
    if params.get("state"):
        invoices = [i for i in invoices if i["state"] == params["state"]]
    if params.get("month"):
        invoices = [i for i in invoices if i["period"] == params["month"]]
    # invoice.rb default_scope: newest first; finance/api/base_controller.rb default_per_page 20 (1..500)
    invoices = sorted(invoices, key=lambda i: (i["created_at"], i["id"]), reverse=True)
    rows, meta = page_of(params, invoices, max_per_page=500, default_per_page=PER_PAGE)
    body: Obj = {"invoices": [{"invoice": invoice_view(sandbox, i)} for i in rows]}
    if meta:
        body["metadata"] = meta
    return JSONResponse(body)


def _invoice(sandbox: Sandbox, invoice_id: str, account_id: int | None = None) -> Obj:
    invoice = sandbox.store.get("invoice", path_id(invoice_id))
    if invoice is None or (account_id is not None and invoice["buyer_account_id"] != account_id):
        raise NotFound()
    return invoice


@router.get("/api/invoices.json")
async def list_invoices(request: Request) -> Response:
    sandbox = sandbox_of(request)
    return _list(sandbox, await read_params(request), sandbox.store.list("invoice"))


@router.post("/api/invoices.json")
async def create_invoice(request: Request) -> Response:
    sandbox = sandbox_of(request)
    params = await read_params(request)
    if params.get("account_id") in (None, ""):
        raise required_missing("account_id")
    account = sandbox.store.get("account", path_id(str(params["account_id"])))
    if account is None:
        raise Unprocessable({"buyer_account": ["can't be blank"]})
    period = wrapped(params, "invoice").get("period")
    return _one(sandbox, billing.create_invoice(sandbox, account["id"], period), 201)


@router.get("/api/invoices/{invoice_id}.json")
async def read_invoice(request: Request, invoice_id: str) -> Response:
    sandbox = sandbox_of(request)
    return _one(sandbox, _invoice(sandbox, invoice_id))


@router.put("/api/invoices/{invoice_id}.json")
async def update_invoice(request: Request, invoice_id: str) -> Response:
    sandbox = sandbox_of(request)
    attrs = wrapped(await read_params(request), "invoice")
    invoice = _invoice(sandbox, invoice_id)
    changes: Obj = {}
    if attrs.get("period") not in (None, ""):
        changes["period"] = billing.parse_month(attrs["period"])
    if attrs.get("friendly_id") not in (None, ""):
        if not FRIENDLY_ID.fullmatch(str(attrs["friendly_id"])):
            raise Unprocessable({"friendly_id": ["format should be YYYY-MM-XXXXXXXX or YYYY-XXXXXXXX"]})
        changes["friendly_id"] = str(attrs["friendly_id"])
    return _one(sandbox, billing.update_invoice(sandbox, invoice, changes))


@router.put("/api/invoices/{invoice_id}/state.json")
async def invoice_state(request: Request, invoice_id: str) -> Response:
    sandbox = sandbox_of(request)
    params = await read_params(request)
    invoice = _invoice(sandbox, invoice_id)
    if params.get("state") in (None, ""):
        raise required_missing("state")
    return _one(sandbox, billing.to_state(sandbox, invoice, str(params["state"])))


@router.get("/api/invoices/{invoice_id}/line_items.json")
async def list_line_items(request: Request, invoice_id: str) -> Response:
    sandbox = sandbox_of(request)
    invoice = _invoice(sandbox, invoice_id)
    items = sandbox.store.list("line_item", invoice_id=invoice["id"])
    return JSONResponse({"line_items": [{"line_item": line_item_view(sandbox, invoice, i)} for i in items]})


@router.post("/api/invoices/{invoice_id}/line_items.json")
async def create_line_item(request: Request, invoice_id: str) -> Response:
    sandbox = sandbox_of(request)
    attrs = wrapped(await read_params(request), "line_item")
    invoice = _invoice(sandbox, invoice_id)
    allowed = {k: attrs.get(k) for k in ("name", "description", "quantity", "cost")}  # line_item.rb attr_accessible
    item = billing.add_line_item(sandbox, invoice, allowed)
    return JSONResponse({"line_item": line_item_view(sandbox, invoice, item)}, status_code=201)


@router.delete("/api/invoices/{invoice_id}/line_items/{item_id}.json")
async def delete_line_item(request: Request, invoice_id: str, item_id: str) -> Response:
    sandbox = sandbox_of(request)
    invoice = _invoice(sandbox, invoice_id)
    item = sandbox.store.get("line_item", path_id(item_id))
    if item is None or item["invoice_id"] != invoice["id"]:
        raise NotFound()
    billing.delete_line_item(sandbox, invoice, item)
    return deleted()


@router.get("/api/accounts/{account_id}/invoices.json")
async def list_account_invoices(request: Request, account_id: str) -> Response:
    sandbox = sandbox_of(request)
    account = account_of(sandbox, account_id)
    return _list(sandbox, await read_params(request), sandbox.store.list("invoice", buyer_account_id=account["id"]))


@router.get("/api/accounts/{account_id}/invoices/{invoice_id}.json")
async def read_account_invoice(request: Request, account_id: str, invoice_id: str) -> Response:
    sandbox = sandbox_of(request)
    account = account_of(sandbox, account_id)
    return _one(sandbox, _invoice(sandbox, invoice_id, account["id"]))


# -- Master API: billing jobs -----------------------------------------------------------------------
def _billing_month(params: Obj) -> str:
    """The month a job dated D bills: the one before D (billing_dates.rb parses `date` as %Y-%m-%d)."""
    if params.get("date") in (None, ""):
        raise required_missing("date")
    try:
        day = datetime.strptime(str(params["date"]), "%Y-%m-%d").date()
    except ValueError:
        raise BadRequest("Invalid date") from None
    previous = date(day.year - (day.month == 1), (day.month - 2) % 12 + 1, 1)
    return previous.strftime("%Y-%m")


async def _billing_job(request: Request, provider_id: str, account_id: str | None) -> Response:
    sandbox = sandbox_of(request)
    params = await read_params(request)
    provider = sandbox.store.first("provider") or {}
    if path_id(provider_id) != provider.get("id"):
        raise NotFound()  # the sandbox serves one tenant's Admin API (docs/sandbox.md)
    account = account_of(sandbox, account_id)["id"] if account_id is not None else None
    billing.bill(sandbox, _billing_month(params), account)
    return Response(status_code=202, content=b"", media_type="application/json")


# master_api.json documents the `.xml` paths; the controller answers `head :accepted` for either format
@master_router.post("/master/api/providers/{provider_id}/billing_jobs.xml")
@master_router.post("/master/api/providers/{provider_id}/billing_jobs.json")
async def billing_job(request: Request, provider_id: str) -> Response:
    return await _billing_job(request, provider_id, None)


@master_router.post("/master/api/providers/{provider_id}/accounts/{account_id}/billing_jobs.xml")
@master_router.post("/master/api/providers/{provider_id}/accounts/{account_id}/billing_jobs.json")
async def account_billing_job(request: Request, provider_id: str, account_id: str) -> Response:
    return await _billing_job(request, provider_id, account_id)
