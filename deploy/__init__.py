"""The production stack: nginx configuration (rendered by render.py), systemd units, the
environment file, and loopback.py, which runs the same stack on 127.0.0.1 (README, Operations)."""
