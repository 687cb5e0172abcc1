"""Server-rendered lifecycle pages: the accounts list, the account page and
its actions, and the stage-achievement settings."""
