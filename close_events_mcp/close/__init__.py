"""Everything that speaks to Close: the client (the only HTTP in the product), its rate gate and
retries, and the users, custom fields and lead names read from Close."""
