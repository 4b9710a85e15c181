"""What a learner sees: the playground page, the optimizer race page, and one view per picture."""
