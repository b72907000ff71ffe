"""Request plumbing with no business rules: HTTP caching, security headers, rate-limit
keys, error pages, the health check and log filters. Nothing here knows what a lead is."""
