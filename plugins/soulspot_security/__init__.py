"""SoulSpot's built-in `security` plugin.

Security headers, CSP, rate limits, CORS, CSRF, audit log page.
"""
