"""Ranking: the scores behind `feed(order: RANKED)`."""
