"""The routes of /api/v1, one module per area: account (who am I, team, invitations, the OpenAPI document),
crm, funnels, pages, orders, analytics and webhooks (outgoing webhook endpoints and their deliveries). Each
declares its routes with `api_route` (app/api/base.py); app/api/__init__.py imports them."""
