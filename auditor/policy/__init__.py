"""Policy rules: loading (schema-validated YAML), the check-kind registry, the engine."""
