"""The Spiderpool profile: what Spiderpool's upgrade notes require, checked against the live cluster."""
