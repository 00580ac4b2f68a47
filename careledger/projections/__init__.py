"""Read models, one module each: their tables and their event handlers (issue 3)."""
