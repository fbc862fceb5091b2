"""The public read-only JSON API (`/api/v1/...`) and the open-data downloads."""
