"""Posts and what people do with them: likes, comments, saves, hashtags and mentions."""
