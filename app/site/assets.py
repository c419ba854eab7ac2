"""The site's own static file: site.js (countdowns, one submit per form), served by the site host at
/_site.js so that published pages load it from their own origin (CSP script-src 'self')."""
LONG_CACHE = "public, max-age=31536000, immutable"  # the URL carries the file's hash (?v=...)
