"""Server-rendered pages: templates, i18n, static files and the page routes."""
