"""interpret stage; see README.md."""
