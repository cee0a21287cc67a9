"""The public status page, rendered from the store so every daemon of a cluster serves the
same bytes: HTML pages, the Statuspage-compatible JSON API and the Atom / JSON feeds."""
