"""embed stage; see README.md."""
