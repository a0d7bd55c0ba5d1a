"""Operations of the Dagster instance itself: bounded run and event-log history."""
