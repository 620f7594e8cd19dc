"""Sources: read templates, SQL docs and the live estate into the Inventory."""
