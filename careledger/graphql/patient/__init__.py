"""A patient's record: timeline, goals, progress and providers, behind the care team."""
