"""A small local stand-in for the parts of Stripe's API that DentalTap calls.

There is no network to Stripe here. The official SDK talks HTTP to this server instead (its
`api` base address), so tests and the dev stack exercise the real SDK, real requests and real
idempotency keys. `localstripe` (PyPI) was considered: it has no Checkout Sessions, no customer
balance transactions and ignores Idempotency-Key, which are exactly what the reward flow needs.

Covered: customers (create, retrieve; delete in customers.py), customer balance transactions
(create, list), coupons (create, retrieve: a partner batch's coupon is checked when staff save
it), Checkout Sessions (create, with `discounts`) with a click-through checkout page, Billing
Portal sessions (create). Writes
honour `Idempotency-Key` as Stripe does: the same key returns the first response again.

For development, the checkout page's "Pay" button plays Stripe's part after a payment: it sends
`checkout.session.completed`, `customer.subscription.created`, `charge.succeeded` (with the card's
fingerprint, the same for the same card number), `invoice.paid` and `invoice_payment.paid`,
signed with the webhook secret, to the app's webhook endpoint.

Test hooks (not Stripe's): GET /_requests lists what was received, each with its outcome
(`applied`, `replayed`, `in_flight`, `failed`, `read`, and `response_lost`); POST /_fail makes the
next N writes fail with a given status before anything is applied; POST /_lose_response makes
the next N writes go through (applied, or replayed for a key already used) and then loses their
answer on the way back, as a timeout or a proxy error does: the caller sees `status` (default
500) or, with `"drop": true`, a connection closed without a response. The stored result under
the idempotency key is the real one, so a retry with the same key gets the first answer back.

    python -m billing.standin --port 12111 --webhook-url http://dentaltap.localhost:8000/stripe/webhook/
"""

from billing.standin.handler import Handler
from billing.standin.server import StandinServer, main, serve
from billing.standin.state import StandinState
from billing.standin.wire import card_details, parse_form, sign

__all__ = ["Handler", "StandinServer", "StandinState", "card_details", "main", "parse_form", "serve", "sign"]
