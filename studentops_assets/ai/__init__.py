"""AI summaries, key terms and flashcards under a daily budget (group `ai`)."""
