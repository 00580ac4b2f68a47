"""The physician's web page at `/app/`: one HTML page, plain JavaScript modules and CSS.

The page reads `/graphql` and issues commands through `/api/v1` with the bearer token
the user pastes in (kept in the tab's sessionStorage, sent only in the Authorization
header). Everything it shows was decided by the server from that token.
"""
