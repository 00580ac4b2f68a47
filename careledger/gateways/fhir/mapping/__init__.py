"""How each stage of an episode's events becomes FHIR resources, one module a stage."""
