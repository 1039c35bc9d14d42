"""What a file is (its type from its content) and, later, what is inside it."""
