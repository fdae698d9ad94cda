"""HTTP models: request, response, headers, cookies, forms and exceptions (no I/O here)."""
