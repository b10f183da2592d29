"""Simulated plugin installs (objects as a vendor's chart leaves them), shared by the e2e tests and the bench."""
