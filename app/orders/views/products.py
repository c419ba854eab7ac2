"""Products: the list (search, status filter, pages), new and edit, archive and restore, and the product's
page with its prices (add one, archive one: a price is never edited, orders reference it)."""
from flask import flash, request, url_for
from flask_login import current_user

from app.assets import services as assets
from app.core.errors import NotFoundError, ServiceError
from app.core.forms import ActionForm, apply_error, flashed_refusal
from app.core.pagination import paginate, parse_page_args
from app.core.roles import role_required
from app.core.tenancy import current_account, get_or_404
from app.core.web import redirect_to, render
from app.orders import bp
from app.orders.forms import price_form, product_form
from app.orders.models import PRODUCT_STATUSES, Price, Product
from app.orders.services import catalog

STATUS_LABELS = {"active": "Active", "archived": "Archived"}


def _filters() -> dict:
    filters = {key: (request.args.get(key) or "").strip()[:200] for key in ("q", "status")}
    if filters["status"] not in PRODUCT_STATUSES:
        filters["status"] = ""
    return filters


@bp.route("/products")
@role_required("viewer")
def products():
    filters = _filters()
    results = paginate(catalog.filtered_products(current_account(), filters), *parse_page_args(request.args))
    return render("orders/products/list.html", block="results", results=results, filters=filters,
                  filtered=any(filters.values()), statuses=list(STATUS_LABELS.items()))


@bp.route("/products/new", methods=["GET", "POST"])
@role_required("user")
def product_new():
    account = current_account()
    form = product_form(account)
    prices = price_form(account, meta={"csrf": False})  # the first price, inside the product's form
    if form.validate_on_submit() and prices.validate():
        try:
            product = catalog.create_product(account, {**form.service_data(), **prices.service_data()},
                                             actor=current_user)
        except ServiceError as error:
            in_prices = [name for name in error.fields if name in prices]
            if in_prices:
                apply_error(prices, error)
            if not in_prices or len(in_prices) < len(error.fields):
                apply_error(form, error)
        else:
            flash(f"Product {product.name} created.", "success")
            return redirect_to(url_for("orders.product_detail", product_id=product.id))
    status = 422 if form.is_submitted() else 200
    return render("orders/products/form.html", block="form", status=status, form=form, price_form=prices,
                  product=None)


@bp.route("/products/<uuid:product_id>/edit", methods=["GET", "POST"])
@role_required("user")
def product_edit(product_id):
    account = current_account()
    product = get_or_404(Product, product_id)
    form = product_form(account, None if request.method == "POST" else product)
    if form.validate_on_submit():
        try:
            catalog.update_product(account, product, form.service_data(), actor=current_user)
        except ServiceError as error:
            apply_error(form, error)
        else:
            flash("Product saved.", "success")
            return redirect_to(url_for("orders.product_detail", product_id=product.id))
    status = 422 if form.is_submitted() else 200
    return render("orders/products/form.html", block="form", status=status, form=form, price_form=None,
                  product=get_or_404(Product, product_id))


def _detail(product, form=None, status=200):
    image = product.image
    return render("orders/products/detail.html", block="prices", status=status, product=product,
                  price_form=form or price_form(current_account(), formdata=None),
                  image_url=assets.app_url(image) if image else None, action_form=ActionForm(formdata=None))


@bp.route("/products/<uuid:product_id>")
@role_required("viewer")
def product_detail(product_id):
    return _detail(get_or_404(Product, product_id))


@bp.route("/products/<uuid:product_id>/archive", methods=["POST"])
@role_required("user")
def product_archive(product_id):
    product = get_or_404(Product, product_id)
    with flashed_refusal():
        catalog.set_product_status(current_account(), product, "archived", actor=current_user)
        flash(f"Product {product.name} archived: new checkouts no longer sell it.", "success")
    return redirect_to(url_for("orders.product_detail", product_id=product_id))


@bp.route("/products/<uuid:product_id>/unarchive", methods=["POST"])
@role_required("user")
def product_unarchive(product_id):
    product = get_or_404(Product, product_id)
    with flashed_refusal():
        catalog.set_product_status(current_account(), product, "active", actor=current_user)
        flash(f"Product {product.name} is active again.", "success")
    return redirect_to(url_for("orders.product_detail", product_id=product_id))


@bp.route("/products/<uuid:product_id>/prices", methods=["POST"])
@role_required("user")
def product_price_add(product_id):
    account = current_account()
    product = get_or_404(Product, product_id)
    form = price_form(account)
    if form.validate_on_submit():
        try:
            price = catalog.add_price(account, product, form.service_data(), actor=current_user)
        except ServiceError as error:
            apply_error(form, error)
        else:
            flash(f"Price {catalog.price_label(price)} added.", "success")
            return redirect_to(url_for("orders.product_detail", product_id=product_id))
    return _detail(get_or_404(Product, product_id), form, 422)


def _price_of(product_id, price_id) -> Price:
    product = get_or_404(Product, product_id)
    price = get_or_404(Price, price_id)
    if price.product_id != product.id:
        raise NotFoundError("No such price for this product.")
    return price


@bp.route("/products/<uuid:product_id>/prices/<uuid:price_id>/archive", methods=["POST"])
@role_required("user")
def product_price_archive(product_id, price_id):
    price = _price_of(product_id, price_id)
    with flashed_refusal():
        catalog.archive_price(current_account(), price, actor=current_user)
        flash("Price archived: new checkouts no longer sell it. Add another price if needed.", "success")
    return redirect_to(url_for("orders.product_detail", product_id=product_id))
