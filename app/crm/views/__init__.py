"""CRM pages, one module per area; all on the `crm` blueprint."""
