"""prepdata stage; see README.md."""
