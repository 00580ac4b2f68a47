"""A patient's record: the timeline, goals, progress and providers, behind the care team's access."""
