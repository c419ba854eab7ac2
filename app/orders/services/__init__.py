"""Orders services: catalog (products, prices, coupons, step offers), pricing, orders, checkout, refunds,
webhooks and reports."""
