"""What a page is made of, wherever it lives (a funnel step's page today, e-mails later): the element
types (`elements`), the tree and its edits (`tree`), its rendering (`render`) and its undo history
(`history`). No blueprint and no models: pure functions on plain data, importing only `app.core`.
The page row itself belongs to the domain that keeps it (`app.funnels.models.Page`)."""
