"""Headless CLI command groups (click + rich). Each calls one service; no logic lives here."""
