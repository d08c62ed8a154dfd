"""The stand-in's customer deletion (`DELETE /v1/customers/<id>`; the handler routes to it). As
Stripe does: the customer becomes a stub `{"id", "object": "customer", "deleted": true}` (a
retrieve answers it), and deleting it again is a 404 `resource_missing`."""

from __future__ import annotations

from typing import Any, Protocol


class CustomerStore(Protocol):
    customers: dict[str, dict[str, Any]]


def customer_delete(state: CustomerStore, customer: str) -> tuple[int, dict[str, Any]]:
    record = state.customers.get(customer)
    if record is None or record.get("deleted"):
        return 404, {
            "error": {
                "type": "invalid_request_error",
                "code": "resource_missing",
                "message": f"No such customer: '{customer}'",
            }
        }
    stub = {"id": customer, "object": "customer", "deleted": True}
    state.customers[customer] = stub
    return 200, stub
