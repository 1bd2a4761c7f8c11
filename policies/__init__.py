"""Who may read what: access policies as data, pure decisions, and the audit trail."""
