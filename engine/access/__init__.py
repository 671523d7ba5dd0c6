"""Who may do what (policy.py, the one module for access decisions), personal data, users, logins."""
