"""Ratings: pure functions from a vote table to a rating table, no database, no web.

```
votes.py         read and check vote tables; aggregate them into cells (Battles)
bradley_terry.py Bradley–Terry maximum likelihood on the Elo scale (Newton, or L-BFGS)
bootstrap.py     multinomial bootstrap over the cells, percentile intervals
elo.py           online Elo (k = 4), the secondary view
style.py         style covariates (length, headers, lists, bold) for style-controlled ratings
robustness.py    the fewest votes whose removal changes the top model (greedy, verified upper bound)
leaderboard.py   all of the above in one table: rank, rating, interval, votes, provisional, Elo
```

Example:
    >>> from gencommons.arena.ratings import leaderboard, read_votes
    >>> board = leaderboard(read_votes("votes.parquet"), rounds=100, anchor={"model-x": 1114})  # doctest: +SKIP
"""

from gencommons.arena.ratings.bootstrap import bootstrap, intervals
from gencommons.arena.ratings.bradley_terry import bradley_terry, fit_strengths
from gencommons.arena.ratings.elo import online_elo
from gencommons.arena.ratings.leaderboard import MIN_VOTES, Leaderboard, leaderboard, ranks
from gencommons.arena.ratings.robustness import Robustness, votes_to_change_top
from gencommons.arena.ratings.style import STYLE_FEATURES, markdown_counts, style_covariates
from gencommons.arena.ratings.synthetic import synthetic_votes
from gencommons.arena.ratings.votes import WINNERS, Battles, battles_from_votes, check_votes, read_votes

__all__ = [
    "MIN_VOTES",
    "STYLE_FEATURES",
    "WINNERS",
    "Battles",
    "Leaderboard",
    "Robustness",
    "battles_from_votes",
    "bootstrap",
    "bradley_terry",
    "check_votes",
    "fit_strengths",
    "intervals",
    "leaderboard",
    "markdown_counts",
    "online_elo",
    "ranks",
    "read_votes",
    "style_covariates",
    "synthetic_votes",
    "votes_to_change_top",
]
