"""Every Flask-WTF form of integrations, and the choices they offer."""

# -- connections and contact sync --

# -- outgoing webhooks --

# -- inbound webhooks --

# -- tracking pixels --
