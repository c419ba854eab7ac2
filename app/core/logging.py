"""Structured logging: one JSON object a line, with the request id of the request being served."""
import json
import logging
import sys

from flask import g, has_request_context, request

# Libraries whose INFO/DEBUG lines carry request URLs, which for webhooks and providers may hold secret tokens
# (httpx logs every request's URL at INFO): only their warnings are logged, whatever LOG_LEVEL says.
QUIET_LOGGERS = ("httpx", "httpcore")

_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if has_request_context():
            entry["request_id"] = g.get("request_id")
            entry["method"] = request.method
            entry["path"] = request.path
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = value if isinstance(value, (str, int, float, bool, type(None))) else str(value)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry)


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        request_id = g.get("request_id", "-") if has_request_context() else "-"
        time = self.formatTime(record, "%H:%M:%S")
        return f"{time} {record.levelname:<7} [{request_id}] {record.name}: {super().format(record)}"


def configure_logging(app) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if app.config["LOG_FORMAT"] == "json" else TextFormatter())
    root = logging.getLogger()
    for existing in list(root.handlers):
        if getattr(existing, "_leadforge", False):
            root.removeHandler(existing)
    handler._leadforge = True
    root.addHandler(handler)
    root.setLevel(app.config["LOG_LEVEL"])
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
