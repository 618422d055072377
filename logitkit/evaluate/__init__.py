"""evaluate stage; see README.md."""
