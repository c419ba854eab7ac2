"""Orders routes of the JSON API: the orders list (filters as on the orders page), one order with its items,
payments and refunds, and refunds through Stripe (app.orders.services.refunds). Reading needs the viewer
role, refunding the user role; another workspace's order is simply not found (404)."""
from flask import jsonify

from app.api.base import ApiError, api_route, id_or_none, iso, list_response, query_filters, query_param, read_body
from app.api.openapi import SCHEMAS, error_response, json_response, list_of, ref
from app.core.errors import ServiceError
from app.core.tenancy import current_account, current_actor, get_or_404
from app.orders.models import ITEM_KINDS, ORDER_STATUSES, REFUND_REASONS, Order, OrderItem, Payment, Refund
from app.orders.services import backoffice, refunds

UUID = {"type": "string", "format": "uuid"}
NULLABLE_ID = {"type": ["string", "null"], "format": "uuid"}
MONEY = {"type": "integer", "description": "Cents (minor units) of the order's currency."}
DATE_TIME = {"type": "string", "format": "date-time"}
NULLABLE_DATE_TIME = {"type": ["string", "null"], "format": "date-time"}

SCHEMAS.update({
    "OrderItem": {"type": "object", "required": ["id", "kind", "name", "quantity", "unit_amount_cents",
                                                 "discount_cents", "amount_cents", "refunded_cents"],
                  "properties": {"id": UUID, "kind": {"type": "string", "enum": list(ITEM_KINDS)},
                                 "name": {"type": "string"}, "product_id": NULLABLE_ID, "price_id": NULLABLE_ID,
                                 "payment_id": NULLABLE_ID, "quantity": {"type": "integer"},
                                 "unit_amount_cents": MONEY, "discount_cents": MONEY, "amount_cents": MONEY,
                                 "refunded_cents": MONEY}},
    "Payment": {"type": "object", "required": ["id", "purpose", "status", "amount_cents", "currency",
                                               "refunded_cents", "created_at"],
                "properties": {"id": UUID, "purpose": {"type": "string", "enum": ["checkout", "upsell", "downsell"]},
                               "status": {"type": "string"}, "amount_cents": MONEY, "currency": {"type": "string"},
                               "refunded_cents": MONEY, "failure_message": {"type": "string"},
                               "stripe_payment_intent_id": {"type": ["string", "null"]},
                               "stripe_charge_id": {"type": ["string", "null"]}, "created_at": DATE_TIME}},
    "Refund": {"type": "object", "required": ["id", "order_id", "amount_cents", "reason", "note", "status",
                                              "created_at"],
               "properties": {"id": UUID, "order_id": UUID, "payment_id": NULLABLE_ID, "item_id": NULLABLE_ID,
                              "amount_cents": MONEY, "reason": {"type": "string", "enum": list(REFUND_REASONS)},
                              "note": {"type": "string"}, "status": {"type": "string"},
                              "stripe_refund_id": {"type": ["string", "null"]}, "created_at": DATE_TIME}},
    "Order": {"type": "object",
              "required": ["id", "number", "status", "email", "currency", "subtotal_cents", "discount_cents",
                           "total_cents", "refunded_cents", "created_at", "updated_at"],
              "properties": {"id": UUID, "number": {"type": "integer"},
                             "status": {"type": "string", "enum": list(ORDER_STATUSES)},
                             "email": {"type": "string"}, "first_name": {"type": "string"},
                             "last_name": {"type": "string"}, "phone": {"type": "string"},
                             "contact_id": NULLABLE_ID, "funnel_id": NULLABLE_ID, "currency": {"type": "string"},
                             "subtotal_cents": MONEY, "discount_cents": MONEY, "total_cents": MONEY,
                             "refunded_cents": MONEY, "coupon_code": {"type": "string"},
                             "paid_at": NULLABLE_DATE_TIME, "created_at": DATE_TIME, "updated_at": DATE_TIME}},
    "OrderList": list_of("#/components/schemas/Order"),
})
SCHEMAS["OrderDetail"] = {
    "type": "object", "required": [*SCHEMAS["Order"]["required"], "items", "payments", "refunds"],
    "properties": {**SCHEMAS["Order"]["properties"],
                   "items": {"type": "array", "items": ref("OrderItem")},
                   "payments": {"type": "array", "items": ref("Payment")},
                   "refunds": {"type": "array", "items": ref("Refund")}}}
SCHEMAS["RefundCreate"] = {
    "type": "object",
    "description": "Without `amount_cents`, all that remains (of the item, with `item_id`, or of the order). "
                   "The money goes back through Stripe, to the payments that took it.",
    "properties": {
        "amount_cents": {"type": "integer", "minimum": 1, "maximum": 10 ** 12,
                         "description": "How much to refund, in cents; at most what remains."},
        "item_id": {"type": ["string", "null"], "format": "uuid", "description": "Refund this item of the order."},
        "reason": {"type": "string", "enum": list(REFUND_REASONS), "default": "requested_by_customer"},
        "note": {"type": ["string", "null"], "maxLength": 500, "pattern": "^[^\\u0000]*$"},
    }}
SCHEMAS["RefundList"] = {"type": "object", "required": ["items"], "properties": {
    "items": {"type": "array", "items": ref("Refund")}}}

# The fields the refund body takes, with their JSON kinds (app.api.base.check_types); its schema lists the same.
REFUND_TYPES = {"amount_cents": "integer", "item_id": "text", "reason": "string", "note": "text"}
NOT_FOUND = error_response("No such order in the key's workspace.")

ORDER_FILTERS = {"status": tuple(ORDER_STATUSES), "funnel_id": "uuid", "contact_id": "uuid",
                 "created_after": "date", "created_before": "date"}
DATE_PARAM = {"type": "string", "format": "date"}
ORDER_PARAMS = [
    query_param("status", {"type": "string", "enum": list(ORDER_STATUSES)}, "Orders in this status."),
    query_param("funnel_id", UUID, "Orders placed in this funnel."),
    query_param("contact_id", UUID, "Orders of this customer (a CRM contact)."),
    query_param("created_after", DATE_PARAM, "Placed on or after this day (the workspace's time zone)."),
    query_param("created_before", DATE_PARAM, "Placed on or before this day (the workspace's time zone)."),
]


# ---- serialization --------------------------------------------------------------------------------------

def order_json(order: Order) -> dict:
    return {"id": str(order.id), "number": order.number, "status": order.status, "email": order.email,
            "first_name": order.first_name, "last_name": order.last_name, "phone": order.phone,
            "contact_id": id_or_none(order.contact_id), "funnel_id": id_or_none(order.funnel_id),
            "currency": order.currency, "subtotal_cents": order.subtotal_cents,
            "discount_cents": order.discount_cents, "total_cents": order.total_cents,
            "refunded_cents": order.refunded_cents, "coupon_code": order.coupon_code, "paid_at": iso(order.paid_at),
            "created_at": iso(order.created_at), "updated_at": iso(order.updated_at)}


def item_json(item: OrderItem) -> dict:
    return {"id": str(item.id), "kind": item.kind, "name": item.name, "product_id": id_or_none(item.product_id),
            "price_id": id_or_none(item.price_id), "payment_id": id_or_none(item.payment_id),
            "quantity": item.quantity, "unit_amount_cents": item.unit_amount_cents,
            "discount_cents": item.discount_cents, "amount_cents": item.amount_cents,
            "refunded_cents": item.refunded_cents}


def payment_json(payment: Payment) -> dict:
    return {"id": str(payment.id), "purpose": payment.purpose, "status": payment.status,
            "amount_cents": payment.amount_cents, "currency": payment.currency,
            "refunded_cents": payment.refunded_cents, "failure_message": payment.failure_message,
            "stripe_payment_intent_id": payment.stripe_payment_intent_id,
            "stripe_charge_id": payment.stripe_charge_id, "created_at": iso(payment.created_at)}


def refund_json(refund: Refund) -> dict:
    return {"id": str(refund.id), "order_id": str(refund.order_id), "payment_id": id_or_none(refund.payment_id),
            "item_id": id_or_none(refund.item_id), "amount_cents": refund.amount_cents, "reason": refund.reason,
            "note": refund.note, "status": refund.status, "stripe_refund_id": refund.stripe_refund_id,
            "created_at": iso(refund.created_at)}


def order_detail_json(order: Order) -> dict:
    return {**order_json(order), "items": [item_json(item) for item in order.items],
            "payments": [payment_json(payment) for payment in order.payments],
            "refunds": [refund_json(refund) for refund in order.refunds]}


# ---- routes -----------------------------------------------------------------------------------------------

def _listing_filters() -> tuple[dict, str | None]:
    """(the filters of app.orders.services.backoffice, the contact id) from the query string."""
    filters = query_filters(ORDER_FILTERS)
    names = {"status": "status", "funnel_id": "funnel", "created_after": "from", "created_before": "to"}
    return {names[key]: value for key, value in filters.items() if key in names}, filters.get("contact_id")


@api_route("/orders", summary="List orders (newest first; search with q: e-mail, name or number)", paginated=True,
           tag="Orders", params=ORDER_PARAMS, responses={200: json_response("A page of orders.", "OrderList")})
def list_orders():
    account = current_account()
    filters, contact_id = _listing_filters()

    def query_for(values):
        query = backoffice.filtered(account, values)
        return query.where(Order.contact_id == contact_id) if contact_id else query

    return jsonify(list_response(query_for(filters), order_json, lambda _, q: query_for({**filters, "q": q})))


@api_route("/orders/<uuid:order_id>", summary="Get an order with its items, payments and refunds", tag="Orders",
           responses={200: json_response("The order.", "OrderDetail"), 404: NOT_FOUND})
def get_order(order_id):
    order = get_or_404(Order, order_id)
    return jsonify(order_detail_json(order))


@api_route("/orders/<uuid:order_id>/refunds", methods=("POST",), summary="Refund all or part of an order, or of "
           "one of its items", role="user", tag="Orders", body=ref("RefundCreate"),
           responses={201: json_response("The refunds made (one per payment the money goes back to).", "RefundList"),
                      404: NOT_FOUND,
                      409: error_response("The order is not paid, nothing remains to refund, or Stripe refused.")})
def create_refund(order_id):
    order = get_or_404(Order, order_id)
    data = read_body(REFUND_TYPES)
    reason = data.get("reason", "requested_by_customer")
    if reason not in REFUND_REASONS:
        raise ApiError(422, f"reason must be one of: {', '.join(REFUND_REASONS)}.",
                       {"reason": f"Use one of: {', '.join(REFUND_REASONS)}."})
    try:
        made = refunds.create(current_account(), order, data.get("amount_cents"), item_id=data.get("item_id"),
                              reason=reason, note=data.get("note") or "", actor=current_actor())
    except ServiceError as error:  # the service names the page's field `amount`: here it is `amount_cents`
        if "amount" in error.fields:
            error.fields["amount_cents"] = error.fields.pop("amount")
        raise
    return jsonify({"items": [refund_json(refund) for refund in made]}), 201
