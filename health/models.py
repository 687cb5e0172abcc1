# Health models (usage events, rollups, health profiles, scores) arrive with their issue.
