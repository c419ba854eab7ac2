"""CRM operations, one module per kind of record. Plain functions: they take the account (and the
acting user where it matters) and plain values, validate, write, record the audit log and the contact
timeline, publish domain events after commit, and raise app.core.errors exceptions naming the field."""
