"""The arena: battles between anonymous models, votes, ratings, exports."""
