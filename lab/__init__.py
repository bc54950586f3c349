"""rhdemo-lab: reproduce rhDemo's redeploy failures and their fixes on a real kind cluster."""

__version__ = "0.1.0"
