"""The practitioner directory and the caller the token names: no patient data."""
