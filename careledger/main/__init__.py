"""The composition root: the only package that knows every other and wires them together.

The command line (`cli`), the API process (`wsgi`, `server`, Django's `urls` and
`django_settings`), the application and its database (`bootstrap`), the demo network
(`seed`, `demo`). Everything below takes what it needs as arguments from here.
"""
