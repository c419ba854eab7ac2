"""Errors that services raise; views turn them into form messages, the API into 4xx JSON."""


class ServiceError(Exception):
    status = 400
    code = "bad_request"

    def __init__(self, message: str, field: str | None = None, fields: dict | None = None):
        super().__init__(message)
        self.message = message
        self.fields = dict(fields or {})
        if field:
            self.fields.setdefault(field, message)


class ValidationError(ServiceError):
    status = 422
    code = "validation_failed"


class ConflictError(ServiceError):
    status = 409
    code = "conflict"


class ForbiddenError(ServiceError):
    status = 403
    code = "forbidden"


class NotFoundError(ServiceError):
    status = 404
    code = "not_found"
