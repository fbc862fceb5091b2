"""Public pages: the list of petitions, a petition, its running total."""
