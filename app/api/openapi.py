"""The OpenAPI 3.1 document of /api/v1, assembled from the operations that `api_route` registered."""

ERROR = {
    "type": "object", "required": ["error"],
    "properties": {"error": {"type": "object", "required": ["code", "message", "fields"], "properties": {
        "code": {"type": "string", "examples": ["validation_failed"]},
        "message": {"type": "string"},
        "fields": {"type": "object", "additionalProperties": {"type": "string"}},
    }}},
}


def ref(name: str) -> dict:
    """A reference to the component schema `name`."""
    return {"$ref": f"#/components/schemas/{name}"}


def json_response(description: str, schema: str) -> dict:
    """A response whose JSON body is the component schema `schema`."""
    return {"description": description, "content": {"application/json": {"schema": ref(schema)}}}


def error_response(description: str) -> dict:
    """A 4xx response with the API's error body."""
    return json_response(description, "Error")


def list_of(ref: str) -> dict:
    return {"type": "object", "required": ["items", "page", "page_size", "total"], "properties": {
        "items": {"type": "array", "items": {"$ref": ref}},
        "page": {"type": "integer"}, "page_size": {"type": "integer"}, "total": {"type": "integer"}}}


SCHEMAS = {
    "Error": ERROR,
    "Account": {"type": "object", "required": ["id", "name", "timezone", "currency", "created_at"], "properties": {
        "id": {"type": "string", "format": "uuid"}, "name": {"type": "string"},
        "timezone": {"type": "string"}, "currency": {"type": "string"},
        "created_at": {"type": "string", "format": "date-time"}}},
    "Me": {"type": "object", "required": ["account", "user", "api_key"], "properties": {
        "account": {"$ref": "#/components/schemas/Account"},
        "user": {"type": "object", "properties": {
            "id": {"type": "string", "format": "uuid"}, "email": {"type": "string"},
            "name": {"type": "string"}, "role": {"type": "string", "enum": ["viewer", "user", "admin", "owner"]}}},
        "api_key": {"type": "object", "properties": {
            "id": {"type": "string", "format": "uuid"}, "name": {"type": "string"}, "prefix": {"type": "string"},
            "created_at": {"type": "string", "format": "date-time"}}}}},
    "Member": {"type": "object", "required": ["id", "user_id", "email", "role"], "properties": {
        "id": {"type": "string", "format": "uuid"}, "user_id": {"type": "string", "format": "uuid"},
        "email": {"type": "string"}, "name": {"type": "string"},
        "role": {"type": "string", "enum": ["viewer", "user", "admin", "owner"]},
        "joined_at": {"type": "string", "format": "date-time"}}},
    "MemberList": list_of("#/components/schemas/Member"),
    "InvitationCreate": {"type": "object", "required": ["email"], "properties": {
        "email": {"type": "string", "format": "email", "maxLength": 254},
        "role": {"type": "string", "enum": ["viewer", "user", "admin", "owner"], "default": "user"}}},
    "Invitation": {"type": "object", "required": ["id", "email", "role", "status"], "properties": {
        "id": {"type": "string", "format": "uuid"}, "email": {"type": "string"},
        "role": {"type": "string"}, "status": {"type": "string", "enum": ["pending", "accepted", "revoked", "expired"]},
        "expires_at": {"type": "string", "format": "date-time"},
        "created_at": {"type": "string", "format": "date-time"}}},
}


def _closed_bodies(operations: dict) -> dict:
    """The component schemas, those used as request bodies with `additionalProperties: false` (the API
    refuses a field it does not take: app/api/base.py `check_known`)."""
    bodies = {operation["requestBody"]["content"]["application/json"]["schema"].get("$ref", "").rsplit("/", 1)[-1]
              for methods in operations.values() for operation in methods.values() if "requestBody" in operation}
    return {name: {**schema, "additionalProperties": False} if name in bodies and "properties" in schema else schema
            for name, schema in SCHEMAS.items()}


def build_document(operations: dict) -> dict:
    return {
        "openapi": "3.1.0",
        "info": {"title": "Leadforge API", "version": "1.0.0",
                 "description": "Authenticate with `Authorization: Bearer <API key>` (Settings → API keys). "
                                "Errors are `{\"error\": {\"code\", \"message\", \"fields\"}}`; lists are "
                                "`{\"items\", \"page\", \"page_size\", \"total\"}` with `page`, `page_size` "
                                "(default 20, max 100) and `q`."},
        "servers": [{"url": "/"}],
        "security": [{"bearerAuth": []}],
        "paths": {path: dict(sorted(methods.items())) for path, methods in sorted(operations.items())},
        "components": {
            "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer"}},
            "schemas": _closed_bodies(operations),
        },
    }
