"""The routes of /api/v1, one module per area: account (who am I, team, invitations, the OpenAPI document),
crm, funnels and pages. Each declares its routes with `api_route` (app/api/base.py)."""
