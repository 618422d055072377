"""pipeline stage; see README.md."""
