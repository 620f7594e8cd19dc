"""Test helpers shared by test modules (real HTTP, no mocked client methods)."""
