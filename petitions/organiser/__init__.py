"""The organiser's pages: their petitions, drafting, submitting, sponsors, closing early."""
