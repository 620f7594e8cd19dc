"""Credentials inside the data: sampled rows scanned locally, pushed down as SQL, or by DLP."""
