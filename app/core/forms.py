"""Glue between service errors and forms."""
from app.core.errors import ServiceError


def apply_error(form, error: ServiceError) -> None:
    """Put the service's message next to the field it names (or on the form as a whole)."""
    placed = False
    for name, message in error.fields.items():
        field = getattr(form, name, None)
        if field is not None and hasattr(field, "errors"):
            field.errors = list(field.errors) + [message]
            placed = True
    if not placed:
        form.form_errors.append(error.message)
